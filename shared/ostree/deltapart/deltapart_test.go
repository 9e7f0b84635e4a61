package deltapart

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/ulikunitz/xz"
)

func TestWriterDecodes(t *testing.T) {
	for _, n := range []int{1, 100, chunkMax - 1, chunkMax, chunkMax + 1, 5*chunkMax + 17} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(i * 7 / 3)
			}
			var b bytes.Buffer
			pw := NewWriter(&b)
			// Uneven writes: chunking must not depend on them.
			for rest := data; len(rest) > 0; {
				k := min(len(rest), 1+len(rest)/3)
				pw.Write(rest[:k])
				rest = rest[k:]
			}
			size, err := pw.Close()
			if err != nil {
				t.Fatal(err)
			}
			if size != int64(b.Len()) {
				t.Errorf("Close says %d bytes, wrote %d", size, b.Len())
			}
			if b.Bytes()[0] != 'x' {
				t.Fatalf("compression byte %q, want 'x'", b.Bytes()[0])
			}
			if over := b.Len() - n; over > 64+3*(n/chunkMax+1) {
				t.Errorf("%d bytes of framing for %d bytes", over, n)
			}
			r, err := xz.NewReader(bytes.NewReader(b.Bytes()[1:]))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("decoded %d bytes differ from the %d written", len(got), n)
			}
			h := NewHasher()
			h.Write(data)
			hs, sum := h.Sum()
			if hs != size || sum != sha256.Sum256(b.Bytes()) {
				t.Errorf("Hasher gives %d bytes %x, the file is %d bytes %x", hs, sum, size, sha256.Sum256(b.Bytes()))
			}
		})
	}
}

func TestParseRecipeRejects(t *testing.T) {
	good := (&Recipe{Head: []byte("h"), Tail: []byte("t"), Size: 9}).Marshal()
	for name, b := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("NOTARECP"), good[8:]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(bytes.Clone(good), 0),
	} {
		if _, err := ParseRecipe(b); !errors.Is(err, ErrBadRecipe) {
			t.Errorf("%s: got %v, want ErrBadRecipe", name, err)
		}
	}
	if _, err := ParseRecipe(good); err != nil {
		t.Errorf("good recipe: %v", err)
	}
}

func TestOverlay(t *testing.T) {
	for _, tc := range []struct {
		name, want string
	}{
		{"ostree/summary", "ostree/ocne-delta/summary"},
		{"summary", "ocne-delta/summary"},
		{"ostree/deltas/AB/CDEF/superblock", "ostree/ocne-delta/deltas/AB/CDEF/superblock"},
		{"ostree/deltas/AB/CDEF/0", "ostree/ocne-delta/deltas/AB/CDEF/0"},
		{"ostree/delta-indexes/AB/CDEF.index", "ostree/ocne-delta/delta-indexes/AB/CDEF.index"},
		{"ostree/objects/ab/cdef.filez", ""},
		{"ostree/config", ""},
		{"ostree/mydeltas/x", ""},
		{"ostree/ocne-delta/deltas/x", ""},
		{"ks/summary.txt", ""},
	} {
		got, ok := Overlay(tc.name)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Overlay(%q) = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}
