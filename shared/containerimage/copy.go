package containerimage

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// ArchiveReference returns the reference that reads the image in a tar
// file: oci-archive when it has an OCI index, naming the image when the
// index lists it under several names (as WriteArchive does), else
// docker-archive.
func ArchiveReference(path string) (*Reference, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	docker := false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s is not an image archive (a tar from `create`, `podman save` or `skopeo copy`): %w", path, err)
		}
		switch hdr.Name {
		case "manifest.json", "./manifest.json":
			docker = true
		case imgspecv1.ImageIndexFile, "./" + imgspecv1.ImageIndexFile:
			var index imgspecv1.Index
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&index); err != nil {
				return nil, fmt.Errorf("%s: index.json: %w", path, err)
			}
			return ociArchiveReference(path, index)
		}
	}
	if docker {
		return ParseReference("docker-archive:" + path)
	}
	return nil, fmt.Errorf("%s is not an image archive: it has neither index.json nor manifest.json", path)
}

func ociArchiveReference(path string, index imgspecv1.Index) (*Reference, error) {
	switch {
	case len(index.Manifests) == 0:
		return nil, fmt.Errorf("%s: the OCI index lists no image", path)
	case len(index.Manifests) == 1:
		return ParseReference("oci-archive:" + path)
	}
	first := index.Manifests[0]
	for _, m := range index.Manifests[1:] {
		if m.Digest != first.Digest {
			return nil, fmt.Errorf("%s holds %d different images; this tool writes archives of one", path, len(index.Manifests))
		}
	}
	name := first.Annotations[imgspecv1.AnnotationRefName]
	if name == "" {
		return nil, errors.New(path + ": the OCI index lists the image twice without names")
	}
	return ParseReference("oci-archive:" + path + ":" + name)
}

// CopyProgress is told about the bytes a copy moves.
type CopyProgress interface {
	Grow(total int64)
	Add(n int)
}

// Copy copies an image between any two transports, as skopeo copy does.
func Copy(ctx context.Context, src, dest types.ImageReference, opts Options, p CopyProgress) error {
	sys, err := opts.systemContext()
	if err != nil {
		return err
	}
	policy, err := signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		return err
	}
	defer policy.Destroy()
	co := &copy.Options{SourceCtx: sys, DestinationCtx: sys}
	if p != nil {
		events := make(chan types.ProgressProperties)
		done := make(chan struct{})
		go func() {
			defer close(done)
			seen := map[string]uint64{}
			for e := range events {
				d := e.Artifact.Digest.String()
				switch e.Event {
				case types.ProgressEventNewArtifact:
					p.Grow(e.Artifact.Size)
				case types.ProgressEventRead, types.ProgressEventDone, types.ProgressEventSkipped:
					if e.Event == types.ProgressEventSkipped {
						p.Add(int(e.Artifact.Size) - int(seen[d]))
						seen[d] = uint64(e.Artifact.Size)
						continue
					}
					p.Add(int(e.Offset - seen[d]))
					seen[d] = e.Offset
				}
			}
		}()
		co.Progress = events
		co.ProgressInterval = 200 * time.Millisecond
		defer func() { close(events); <-done }()
	}
	if _, err := copy.Image(ctx, policy, dest, src, co); err != nil {
		return fmt.Errorf("copy %s to %s: %w", transportRef(src), transportRef(dest), err)
	}
	return nil
}
