package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/serverimage/layout"
)

// tarLayer writes a layer holding files (path -> content).
func tarLayer(t *testing.T, c ociarchive.Compression, files map[string]string) ociarchive.BlobLayer {
	t.Helper()
	tl, err := ociarchive.NewTarLayer(t.TempDir(), c, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range files {
		if err := tl.File(p, 0o644, int64(len(content)), strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := tl.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var testConfig = imgspecv1.Image{Platform: imgspecv1.Platform{OS: "linux", Architecture: "amd64"}}

func TestObjectSizes(t *testing.T) {
	repo := layout.RepoPath
	server := map[string]string{"/usr/bin/server": "binary"}
	for _, tc := range []struct {
		name         string
		layers       []map[string]string
		wantObjects  int
		wantBytes    int64
		wantErrMatch string
	}{
		{
			name: "server image",
			layers: []map[string]string{server, {
				repo + "/config":                         "[core]\n",
				repo + "/refs/heads/ock":                 "abc\n",
				repo + "/objects/ab/cdef.commit":         "12345",
				repo + "/objects/ab/cdf0.filez":          "1234567890",
				"/usr/share/nginx/html/ostree-notes.txt": "not an object",
			}},
			wantObjects: 2, wantBytes: 15,
		},
		{
			name:         "no repository",
			layers:       []map[string]string{server},
			wantErrMatch: "no layer holds files under",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b ociarchive.Build
			for _, files := range tc.layers {
				b.Layers = append(b.Layers, tarLayer(t, ociarchive.Uncompressed, files))
			}
			b.Config = testConfig
			archive := filepath.Join(t.TempDir(), "image.tar")
			if err := ociarchive.WriteArchive(archive, b, []string{"localhost/test:latest"}); err != nil {
				t.Fatal(err)
			}
			got, err := objectSizes(archive)
			if tc.wantErrMatch != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrMatch) {
					t.Fatalf("objectSizes: got error %v, want one containing %q", err, tc.wantErrMatch)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(archive)
			if err != nil {
				t.Fatal(err)
			}
			want := archiveObjects{Objects: tc.wantObjects, Bytes: tc.wantBytes, TarBytes: fi.Size()}
			if got != want {
				t.Errorf("objectSizes = %+v, want %+v", got, want)
			}
		})
	}
}

func TestFloor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	b := ociarchive.Build{Config: testConfig, Layers: []ociarchive.BlobLayer{
		tarLayer(t, ociarchive.Gzip, map[string]string{"objects/aa/1.file": strings.Repeat("a", 1000), "objects/aa/2.dirtree": "xyz"}),
		tarLayer(t, ociarchive.Gzip, map[string]string{"objects/bb/3.file": ""}),
		tarLayer(t, ociarchive.Gzip, map[string]string{"objects/cc/4.file": "hello"}),
	}}
	ref, err := containerimage.ParseReference("oci:" + dir + ":" + ImageTag)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := containerimage.Write(context.Background(), ref, []ociarchive.Build{b}, containerimage.Options{}); err != nil {
		t.Fatal(err)
	}
	img, err := readLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 2, 5} {
		for _, create := range []bool{false, true} {
			st, err := floor(context.Background(), img, workers, create)
			if err != nil {
				t.Fatalf("%d workers, create %v: %v", workers, create, err)
			}
			if got := [2]int64{st.files.Load(), st.content.Load()}; got != [2]int64{4, 1008} {
				t.Errorf("%d workers, create %v: files, content = %v, want [4 1008]", workers, create, got)
			}
			if st.deflated.Load() == 0 {
				t.Errorf("%d workers, create %v: nothing deflated", workers, create)
			}
		}
	}

	// A layer that is not the one the manifest names is an error, not a floor.
	other := tarLayer(t, ociarchive.Gzip, map[string]string{"objects/bb/3.file": "changed"})
	if err := os.Rename(other.Path, img.blobPath(img.manifest.Layers[1].Digest)); err != nil {
		t.Fatal(err)
	}
	if _, err := floor(context.Background(), img, 2, false); err == nil || !strings.Contains(err.Error(), "blob digest") {
		t.Errorf("floor of a replaced layer: got error %v, want a blob digest mismatch", err)
	}
}
