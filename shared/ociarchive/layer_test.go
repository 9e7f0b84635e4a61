package ociarchive_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/ociarchive"
)

// TestTarLayer writes a layer in each compression and reads it back: the
// blob hashes to its digest, what it decompresses to hashes to its diff ID,
// and the tar holds each parent directory once, before what is in it.
func TestTarLayer(t *testing.T) {
	for _, tc := range []struct {
		c          ociarchive.Compression
		mediaType  string
		decompress func(io.Reader) (io.Reader, error)
	}{
		{ociarchive.Uncompressed, imgspecv1.MediaTypeImageLayer, func(r io.Reader) (io.Reader, error) { return r, nil }},
		{ociarchive.Gzip, imgspecv1.MediaTypeImageLayerGzip, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{ociarchive.Zstd, imgspecv1.MediaTypeImageLayerZstd, func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) }},
	} {
		t.Run(string(tc.c), func(t *testing.T) {
			mtime := time.Unix(1700000000, 0)
			tl, err := ociarchive.NewTarLayer(t.TempDir(), tc.c, mtime)
			if err != nil {
				t.Fatal(err)
			}
			if err := tl.File("/usr/share/a", 0o644, 3, strings.NewReader("aaa")); err != nil {
				t.Fatal(err)
			}
			if err := tl.File("usr/share/b", 0o600, 0, strings.NewReader("")); err != nil {
				t.Fatal(err)
			}
			if err := tl.Dir("/tmp", 0o1777); err != nil {
				t.Fatal(err)
			}
			l, err := tl.Finish()
			if err != nil {
				t.Fatal(err)
			}
			defer os.Remove(l.Path)
			blob, err := os.ReadFile(l.Path)
			if err != nil {
				t.Fatal(err)
			}
			if l.MediaType != tc.mediaType || l.Size != int64(len(blob)) || l.Digest != digest.FromBytes(blob) {
				t.Errorf("layer %+v: want %s, %d bytes, %s", l, tc.mediaType, len(blob), digest.FromBytes(blob))
			}
			r, err := tc.decompress(bytes.NewReader(blob))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := digest.FromBytes(raw); got != l.DiffID {
				t.Errorf("diff ID %s, content hashes to %s", l.DiffID, got)
			}
			var names []string
			tr := tar.NewReader(bytes.NewReader(raw))
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				if !h.ModTime.Equal(mtime) {
					t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, mtime)
				}
				names = append(names, h.Name)
			}
			want := "usr/ usr/share/ usr/share/a usr/share/b tmp/"
			if got := strings.Join(names, " "); got != want {
				t.Errorf("entries %q, want %q", got, want)
			}
		})
	}
}

func TestParseCompression(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ociarchive.Compression
		err  bool
	}{
		{"none", ociarchive.Uncompressed, false},
		{"gzip", ociarchive.Gzip, false},
		{"zstd", ociarchive.Zstd, false},
		{"xz", "", true},
		{"", "", true},
	} {
		got, err := ociarchive.ParseCompression(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseCompression(%q) = %q, %v", tc.in, got, err)
		}
	}
}
