package containerimage_test

import (
	"archive/tar"
	"context"
	"io"
	"testing"

	"github.com/ocne-image/ocne-image/shared/containerimage"
)

// TestOpenLayerUpstream reads the layers real ostree-ext wrote up to their
// tar end-of-archive marker only, as the importer does: Close must still
// find every blob digest and diff ID matching.
func TestOpenLayerUpstream(t *testing.T) {
	ctx := context.Background()
	ref, err := containerimage.ResolveSource("oci-archive:testdata/exampleos-derive.ociarchive")
	if err != nil {
		t.Fatal(err)
	}
	img, err := containerimage.Open(ctx, ref, containerimage.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	for _, l := range img.Layers() {
		r, err := img.OpenLayer(ctx, l, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(r)
		entries := 0
		for {
			if _, err := tr.Next(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("layer %d: %v", l.Index+1, err)
			}
			entries++
		}
		if err := r.Close(); err != nil {
			t.Errorf("layer %d (%d entries): %v", l.Index+1, entries, err)
		}
	}
}
