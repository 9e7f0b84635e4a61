package ociarchive

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestBlobHeader: a blob's header is always one block, also past ustar's
// 8 GiB size limit, and tar readers get the size back.
func TestBlobHeader(t *testing.T) {
	d := digest.FromString("x")
	for _, size := range []int64{0, 1, 1<<33 - 1, 1 << 33, 5 << 40} {
		h, err := blobHeader(d, size)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		// An empty body is enough for tar.Reader to parse the header.
		hdr, err := tar.NewReader(io.MultiReader(bytes.NewReader(h), bytes.NewReader(make([]byte, 1024)))).Next()
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if hdr.Size != size || hdr.Name != blobPath(d) {
			t.Errorf("size %d: read back %q of %d bytes", size, hdr.Name, hdr.Size)
		}
	}
}
