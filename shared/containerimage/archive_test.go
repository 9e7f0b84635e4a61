package containerimage_test

import (
	"archive/tar"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
)

// TestArchiveStreamedLayer writes an archive with one layer from a file
// and one streamed, added in the other order than the image lists them,
// and reads it back through containers/image both ways (oci-archive and
// docker-archive), which checks every blob's digest and size.
func TestArchiveStreamedLayer(t *testing.T) {
	d := t.TempDir()
	path := filepath.Join(d, "image.tar")
	a, err := ociarchive.CreateArchive(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Discard()
	files := map[string]string{"usr/share/a": strings.Repeat("a", 1000), "usr/share/b": "", "usr/share/c": strings.Repeat("c", 511)}
	streamed, err := a.Layer(func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, name := range []string{"usr/share/a", "usr/share/b", "usr/share/c"} {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(files[name]))}); err != nil {
				return err
			}
			if _, err := io.WriteString(tw, files[name]); err != nil {
				return err
			}
		}
		return tw.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if streamed.Digest != streamed.DiffID || streamed.Size%512 != 0 {
		t.Errorf("streamed layer %+v: want an uncompressed tar", streamed)
	}
	base := build(t, "base")
	if err := a.AddLayer(base.Layers[0]); err != nil {
		t.Fatal(err)
	}
	b := base
	b.Layers = append(b.Layers, streamed)
	if err := a.Commit(b, []string{"localhost/test:latest", "localhost/test:1"}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(d, ".*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}

	for _, ref := range []string{"oci-archive:" + path + ":localhost/test:1", "docker-archive:" + path + ":localhost/test:latest"} {
		r, err := containerimage.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		img, err := containerimage.Open(context.Background(), r, containerimage.Options{TempDir: d})
		if err != nil {
			t.Fatalf("open %s: %v", ref, err)
		}
		layers := img.Layers()
		if len(layers) != 2 || layers[1].Digest != streamed.Digest {
			t.Fatalf("%s: layers %+v, want the base layer then %s", ref, layers, streamed.Digest)
		}
		got := map[string]string{}
		for _, l := range layers {
			rc, err := img.OpenLayer(context.Background(), l, nil)
			if err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(rc)
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: layer %s: %v", ref, l.Digest, err)
				}
				data, _ := io.ReadAll(tr)
				got[h.Name] = string(data)
			}
			if err := rc.Close(); err != nil {
				t.Errorf("%s: layer %s: %v", ref, l.Digest, err)
			}
		}
		for name, want := range files {
			if got[name] != want {
				t.Errorf("%s: %s = %d bytes, want %d", ref, name, len(got[name]), len(want))
			}
		}
		if got["etc/which"] != "base" {
			t.Errorf("%s: the file layer's etc/which = %q", ref, got["etc/which"])
		}
		img.Close()
	}
}
