package containerimage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/pkg/sysregistriesv2"
	"go.podman.io/image/v5/types"
	"golang.org/x/net/http/httpproxy"
)

// Options say how to reach an image.
type Options struct {
	// Arch picks the image from a manifest list and must match a
	// single-architecture image's config ("amd64", "arm64").
	Arch string
	// TLSVerify=false allows plain HTTP and unverified certificates.
	TLSVerify bool
	// Proxy routes registry traffic; nil uses the environment
	// (HTTPS_PROXY, HTTP_PROXY, NO_PROXY).
	Proxy *httpproxy.Config
	// AuthFile overrides the registry credentials file.
	AuthFile string
	// TempDir holds large temporary files (an oci-archive being unpacked);
	// default /var/tmp.
	TempDir string
	// RegistriesConf is a registries.conf(5) file used instead of the
	// system one: mirrors, blocked and insecure registries. The builder pod
	// has no system file, so this is how a cluster gets its mirrors.
	RegistriesConf string
}

func (o Options) systemContext() (*types.SystemContext, error) {
	sys := &types.SystemContext{
		ArchitectureChoice:   o.Arch,
		OSChoice:             "linux",
		AuthFilePath:         o.AuthFile,
		BigFilesTemporaryDir: o.TempDir,
	}
	if o.RegistriesConf != "" {
		if err := CheckRegistriesConf(o.RegistriesConf); err != nil {
			return nil, err
		}
		sys.SystemRegistriesConfPath = o.RegistriesConf
	}
	if !o.TLSVerify {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
		sys.OCIInsecureSkipTLSVerify = true
	}
	if o.Proxy != nil {
		for _, p := range []string{o.Proxy.HTTPProxy, o.Proxy.HTTPSProxy} {
			if u, err := url.Parse(p); p != "" && (err != nil || u.Host == "") {
				return nil, fmt.Errorf("invalid proxy URL %q: want e.g. http://proxy.example.com:3128", p)
			}
		}
		proxyFor := o.Proxy.ProxyFunc()
		sys.DockerProxy = func(u *url.URL) (*url.URL, error) { return proxyFor(u) }
	}
	return sys, nil
}

// CheckRegistriesConf reports whether path is a registries.conf(5) file
// containers/image can use, before anything depends on it.
func CheckRegistriesConf(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("registries.conf: %w", err)
	}
	// The drop-in directory is left at its default: a registries.conf given
	// here stands for the main file, as CONTAINERS_REGISTRIES_CONF does.
	if _, err := sysregistriesv2.TryUpdatingCache(&types.SystemContext{SystemRegistriesConfPath: path}); err != nil {
		return fmt.Errorf("registries.conf %s: %w", path, err)
	}
	return nil
}

// Image is an open single-architecture image.
type Image struct {
	ref    *Reference
	sys    *types.SystemContext
	src    types.ImageSource
	img    types.Image
	config *imgspecv1.Image
	layers []types.BlobInfo
}

// ErrArch reports that no image for the wanted architecture exists.
var ErrArch = errors.New("no image for this architecture")

// ArchError is ErrArch for one reference: a manifest list without Want
// (List holds the architectures it has), or a single image for another
// one (Have).
type ArchError struct {
	Ref  string
	Want string
	List []string
	Have string
}

func (e *ArchError) Error() string {
	if e.Have != "" {
		return fmt.Sprintf("%s is an image for %s: %v: %s", e.Ref, e.Have, ErrArch, e.Want)
	}
	return fmt.Sprintf("%s: %v: %s (the list has %s)", e.Ref, ErrArch, e.Want, strings.Join(e.List, ", "))
}

func (e *ArchError) Unwrap() error { return ErrArch }

// Open resolves ref, picking the instance for opts.Arch from a manifest
// list, and reads its manifest and config.
func Open(ctx context.Context, ref *Reference, opts Options) (*Image, error) {
	sys, err := opts.systemContext()
	if err != nil {
		return nil, err
	}
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return nil, fmt.Errorf("open image %s: %w", ref, err)
	}
	im := &Image{ref: ref, sys: sys, src: src}
	if err := im.resolve(ctx, opts.Arch); err != nil {
		src.Close()
		return nil, err
	}
	return im, nil
}

func (im *Image) resolve(ctx context.Context, arch string) error {
	raw, mime, err := im.src.GetManifest(ctx, nil)
	if err != nil {
		return fmt.Errorf("read manifest of %s: %w", im.ref, err)
	}
	var instance *digest.Digest
	if manifest.MIMETypeIsMultiImage(mime) {
		list, err := manifest.ListFromBlob(raw, mime)
		if err != nil {
			return fmt.Errorf("parse manifest list of %s: %w", im.ref, err)
		}
		d, err := list.ChooseInstance(im.sys)
		if err != nil {
			var have []string
			for _, i := range list.Instances() {
				if info, err := list.Instance(i); err == nil && info.ReadOnly.Platform != nil {
					have = append(have, info.ReadOnly.Platform.Architecture)
				}
			}
			return &ArchError{Ref: im.ref.String(), Want: arch, List: have}
		}
		instance = &d
	}
	img, err := image.FromUnparsedImage(ctx, im.sys, image.UnparsedInstance(im.src, instance))
	if err != nil {
		return fmt.Errorf("read image %s: %w", im.ref, err)
	}
	cfg, err := img.OCIConfig(ctx)
	if err != nil {
		return fmt.Errorf("read config of %s: %w", im.ref, err)
	}
	if arch != "" && cfg.Architecture != "" && cfg.Architecture != arch {
		return &ArchError{Ref: im.ref.String(), Want: arch, Have: cfg.Architecture}
	}
	im.img, im.config, im.layers = img, cfg, img.LayerInfos()
	// Some sources (containers-storage:) hold layers in another form than
	// the manifest says, and tell what to fetch instead.
	forCopy, err := im.src.LayerInfosForCopy(ctx, instance)
	if err != nil {
		return fmt.Errorf("read layers of %s: %w", im.ref, err)
	}
	if forCopy != nil {
		if len(forCopy) != len(im.layers) {
			return fmt.Errorf("image %s: source lists %d layers, manifest %d", im.ref, len(forCopy), len(im.layers))
		}
		for i := range forCopy {
			if forCopy[i].Annotations == nil {
				forCopy[i].Annotations = im.layers[i].Annotations
			}
		}
		im.layers = forCopy
	}
	if len(im.layers) != len(cfg.RootFS.DiffIDs) {
		return fmt.Errorf("image %s: manifest lists %d layers but its config %d", im.ref, len(im.layers), len(cfg.RootFS.DiffIDs))
	}
	for i, d := range cfg.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("image %s: config rootfs.diff_ids[%d] %q: %w", im.ref, i, d, err)
		}
	}
	return nil
}

// Close releases the image source.
func (im *Image) Close() error { return im.src.Close() }

// Reference returns the reference the image was opened from.
func (im *Image) Reference() *Reference { return im.ref }

// Labels returns the config's labels.
func (im *Image) Labels() map[string]string { return im.config.Config.Labels }

// Architecture returns the config's architecture.
func (im *Image) Architecture() string { return im.config.Architecture }

// Created returns the config's creation time, zero if it has none.
func (im *Image) Created() time.Time {
	if im.config.Created == nil {
		return time.Time{}
	}
	return *im.config.Created
}

// ManifestDigest returns the digest of the (single-architecture) manifest.
func (im *Image) ManifestDigest(ctx context.Context) (digest.Digest, error) {
	raw, _, err := im.img.Manifest(ctx)
	if err != nil {
		return "", fmt.Errorf("read manifest of %s: %w", im.ref, err)
	}
	return manifest.Digest(raw)
}

// Layer describes one layer of the image.
type Layer struct {
	Index  int
	Digest digest.Digest // of the blob as stored
	DiffID digest.Digest // of the uncompressed tar
	Size   int64         // of the blob, -1 if unknown
	// Annotations from the manifest (e.g. ostree.components).
	Annotations map[string]string
}

// Layers lists the layers, base first.
func (im *Image) Layers() []Layer {
	out := make([]Layer, len(im.layers))
	for i, l := range im.layers {
		out[i] = Layer{Index: i, Digest: l.Digest, DiffID: im.config.RootFS.DiffIDs[i], Size: l.Size, Annotations: l.Annotations}
	}
	return out
}

// OpenLayer streams a layer's uncompressed tar. Close verifies that the
// blob matches the digest the manifest promises and that the uncompressed
// stream matches the config's diff ID, so a truncated, tampered or
// mislabelled layer is an error even if the reader stopped before the end
// (at the tar end-of-archive marker, say: whatever follows it is part of
// the diff ID too); callers must check Close's error. Both are hashed as
// the stream is read: no second pass over the layer.
// onRead, if not nil, is told how many blob bytes each read fetched.
func (im *Image) OpenLayer(ctx context.Context, l Layer, onRead func(n int)) (io.ReadCloser, error) {
	blob, _, err := im.src.GetBlob(ctx, types.BlobInfo{Digest: l.Digest, Size: l.Size}, none.NoCache)
	if err != nil {
		return nil, fmt.Errorf("fetch layer %d (%s) of %s: %w", l.Index+1, l.Digest, im.ref, err)
	}
	compressed := &verifier{r: blob, v: l.Digest.Verifier(), what: fmt.Sprintf("layer %d blob %s", l.Index+1, l.Digest), onRead: onRead}
	tarStream, _, err := compression.AutoDecompress(compressed)
	if err != nil {
		blob.Close()
		return nil, fmt.Errorf("layer %d (%s) of %s: %w", l.Index+1, l.Digest, im.ref, err)
	}
	lr := &layerReader{r: tarStream, blob: compressed, closers: []io.Closer{tarStream, blob}}
	// An uncompressed blob's digest is its diff ID: checked once is enough.
	if l.DiffID != l.Digest {
		lr.diffID, lr.diff = l.DiffID, l.DiffID.Algorithm().Digester()
	}
	return lr, nil
}

type verifier struct {
	r      io.Reader
	v      digest.Verifier
	what   string
	eof    bool
	onRead func(int)
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.v.Write(p[:n])
	if v.onRead != nil && n > 0 {
		v.onRead(n)
	}
	if err == io.EOF {
		v.eof = true
	}
	return n, err
}

// finish reads what the consumer left and checks the digest.
func (v *verifier) finish() error {
	if !v.eof {
		if _, err := io.Copy(io.Discard, v); err != nil {
			return fmt.Errorf("%s: %w", v.what, err)
		}
	}
	if !v.v.Verified() {
		return fmt.Errorf("%s: content does not match its digest (truncated or corrupt layer; pull the image again)", v.what)
	}
	return nil
}

type layerReader struct {
	r       io.Reader
	eof     bool
	blob    *verifier
	diffID  digest.Digest
	diff    digest.Digester // nil when the blob's digest covers it
	closers []io.Closer
}

func (l *layerReader) Read(p []byte) (int, error) {
	if l.eof { // pgzip must not be read past its end
		return 0, io.EOF
	}
	n, err := l.r.Read(p)
	if l.diff != nil {
		l.diff.Hash().Write(p[:n])
	}
	l.eof = err == io.EOF
	return n, err
}

func (l *layerReader) Close() error {
	// Drain the tar stream first, through the diff ID's hash: its
	// decompressor must reach the end of the blob for the blob's digest to
	// be complete, and the bytes after the tar's end are in the diff ID.
	_, err := io.Copy(io.Discard, l)
	switch ferr := l.blob.finish(); {
	case ferr != nil:
		err = ferr
	case err != nil:
		err = fmt.Errorf("layer: %w (truncated or corrupt layer)", err)
	case l.diff != nil && l.diff.Digest() != l.diffID:
		err = fmt.Errorf("uncompressed content is %s, but the image config's rootfs.diff_ids says %s (corrupt or tampered image)", l.diff.Digest(), l.diffID)
	}
	for _, c := range l.closers {
		c.Close()
	}
	return err
}
