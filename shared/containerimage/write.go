package containerimage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"

	"github.com/ocne-image/ocne-image/shared/ociarchive"
)

// Write stores images at dest: one image as is, several as an OCI index
// (each config must name its platform). Destinations that cannot hold OCI
// manifests (docker-archive:) are written through an OCI layout and
// converted by containers/image's copy.
func Write(ctx context.Context, dest types.ImageReference, images []ociarchive.Build, opts Options) (digest.Digest, error) {
	if len(images) == 0 {
		return "", fmt.Errorf("write image: nothing to write")
	}
	sys, err := opts.systemContext()
	if err != nil {
		return "", err
	}
	d, err := dest.NewImageDestination(ctx, sys)
	if err != nil {
		return "", fmt.Errorf("write image to %s: %w", transportRef(dest), err)
	}
	if mimes := d.SupportedManifestMIMETypes(); mimes != nil && !slices.Contains(mimes, imgspecv1.MediaTypeImageManifest) {
		d.Close()
		return writeViaLayout(ctx, dest, images, opts, sys)
	}
	defer d.Close()
	top, err := writeTo(ctx, d, images)
	if err != nil {
		return "", fmt.Errorf("write image to %s: %w", transportRef(dest), err)
	}
	if err := d.Commit(ctx, &unparsed{ref: dest, manifest: top.raw, mime: top.mime}); err != nil {
		return "", fmt.Errorf("write image to %s: %w", transportRef(dest), err)
	}
	return top.digest, nil
}

type written struct {
	raw    []byte
	mime   string
	digest digest.Digest
	desc   imgspecv1.Descriptor
}

func writeTo(ctx context.Context, d types.ImageDestination, images []ociarchive.Build) (written, error) {
	if len(images) == 1 {
		return writeOne(ctx, d, images[0], false)
	}
	index := imgspecv1.Index{Versioned: imgspec.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex}
	for _, b := range images {
		// Instances are stored by digest; only the index is named.
		w, err := writeOne(ctx, d, b, true)
		if err != nil {
			return written{}, err
		}
		index.Manifests = append(index.Manifests, w.desc)
	}
	raw, err := json.Marshal(index)
	if err != nil {
		return written{}, err
	}
	if err := d.PutManifest(ctx, raw, nil); err != nil {
		return written{}, fmt.Errorf("put index: %w", err)
	}
	return written{raw: raw, mime: imgspecv1.MediaTypeImageIndex, digest: digest.FromBytes(raw)}, nil
}

// writeOne puts one image's blobs and manifest, as an instance of an index
// or as the image itself.
func writeOne(ctx context.Context, d types.ImageDestination, b ociarchive.Build, inIndex bool) (written, error) {
	m := imgspecv1.Manifest{
		Versioned:   imgspec.Versioned{SchemaVersion: 2},
		MediaType:   imgspecv1.MediaTypeImageManifest,
		Annotations: b.Annotations,
	}
	cfg := b.Config
	cfg.RootFS = imgspecv1.RootFS{Type: "layers"}
	for _, l := range b.Layers {
		if err := putFile(ctx, d, l); err != nil {
			return written{}, err
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		m.Layers = append(m.Layers, imgspecv1.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size, Annotations: l.Annotations})
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return written{}, err
	}
	cfgInfo, err := d.PutBlob(ctx, bytes.NewReader(rawCfg), types.BlobInfo{Digest: digest.FromBytes(rawCfg), Size: int64(len(rawCfg))}, none.NoCache, true)
	if err != nil {
		return written{}, fmt.Errorf("put config: %w", err)
	}
	m.Config = imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: cfgInfo.Digest, Size: cfgInfo.Size}
	raw, err := json.Marshal(m)
	if err != nil {
		return written{}, err
	}
	dg := digest.FromBytes(raw)
	var instance *digest.Digest
	if inIndex {
		instance = &dg
	}
	if err := d.PutManifest(ctx, raw, instance); err != nil {
		return written{}, fmt.Errorf("put manifest: %w", err)
	}
	desc := imgspecv1.Descriptor{MediaType: m.MediaType, Digest: dg, Size: int64(len(raw))}
	if inIndex {
		desc.Platform = &imgspecv1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	}
	return written{raw: raw, mime: m.MediaType, digest: dg, desc: desc}, nil
}

func putFile(ctx context.Context, d types.ImageDestination, l ociarchive.BlobLayer) error {
	f, err := os.Open(l.Path)
	if err != nil {
		return fmt.Errorf("put layer %s: %w", l.Digest, err)
	}
	defer f.Close()
	if _, err := d.PutBlob(ctx, f, types.BlobInfo{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType}, none.NoCache, false); err != nil {
		return fmt.Errorf("put layer %s: %w", l.Digest, err)
	}
	return nil
}

func writeViaLayout(ctx context.Context, dest types.ImageReference, images []ociarchive.Build, opts Options, sys *types.SystemContext) (digest.Digest, error) {
	dir, err := os.MkdirTemp("", "ocne-image-layout-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	staged, err := layout.NewReference(dir, "staged")
	if err != nil {
		return "", err
	}
	if _, err := Write(ctx, staged, images, opts); err != nil {
		return "", err
	}
	policy, err := signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		return "", err
	}
	defer policy.Destroy()
	raw, err := copy.Image(ctx, policy, dest, staged, &copy.Options{
		SourceCtx: sys, DestinationCtx: sys, ImageListSelection: copy.CopyAllImages,
	})
	if err != nil {
		return "", fmt.Errorf("write image to %s: %w", transportRef(dest), err)
	}
	return digest.FromBytes(raw), nil
}

func transportRef(r types.ImageReference) string {
	return r.Transport().Name() + ":" + r.StringWithinTransport()
}

// unparsed is the minimal types.UnparsedImage ImageDestination.Commit wants.
type unparsed struct {
	ref      types.ImageReference
	manifest []byte
	mime     string
}

func (u *unparsed) Reference() types.ImageReference { return u.ref }
func (u *unparsed) Manifest(context.Context) ([]byte, string, error) {
	return u.manifest, u.mime, nil
}
func (u *unparsed) Signatures(context.Context) ([][]byte, error) { return nil, nil }
