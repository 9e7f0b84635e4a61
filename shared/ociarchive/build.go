// Package ociarchive writes container images without containers/image:
// layer blobs, compressed and digested as they are written (LayerFile,
// TarLayer), and the one-file archive that is both an oci-archive and a
// docker-archive (Archive). What it writes is plain OCI; reading images,
// and writing them to a transport, is shared/containerimage's job.
//
// It is apart so that what only writes images (the server image, the
// builder image, ostree-ext export) links no containers/image, and so that
// its output can be checked by reading it back with containers/image.
package ociarchive

import (
	"os"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Build is one image to write: its layers, base first, and its config. The
// writers fill in the config's rootfs.
type Build struct {
	Layers      []BlobLayer
	Config      imgspecv1.Image
	Annotations map[string]string
}

// RemoveLayerFiles deletes the local files holding the layers.
func (b Build) RemoveLayerFiles() {
	for _, l := range b.Layers {
		os.Remove(l.Path)
	}
}
