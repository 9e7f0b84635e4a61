package ociarchive_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/ociarchive"
)

// oneLayer makes a one-layer image whose etc/which holds which.
func oneLayer(t *testing.T, which string, c ociarchive.Compression) ociarchive.Build {
	t.Helper()
	tl, err := ociarchive.NewTarLayer(t.TempDir(), c, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.File("etc/which", 0o644, int64(len(which)), strings.NewReader(which)); err != nil {
		t.Fatal(err)
	}
	l, err := tl.Finish()
	if err != nil {
		t.Fatal(err)
	}
	b := ociarchive.Build{Layers: []ociarchive.BlobLayer{l}}
	b.Config.OS, b.Config.Architecture = "linux", "amd64"
	b.Config.Config.Labels = map[string]string{"which": which}
	return b
}

// readTar returns a tar stream's regular files by name.
func readTar(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = data
		}
	}
}

// TestWriteArchive reads an archive back as both layouts it is: every blob
// is named by its digest, the OCI index names the one manifest once per
// name, manifest.json lists every name, and the config's diff IDs are the
// layers'. (shared/containerimage's tests read it with containers/image.)
func TestWriteArchive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "image.tar")
	b := oneLayer(t, "base", ociarchive.Gzip)
	names := []string{"localhost/test:latest", "localhost/test:1"}
	if err := ociarchive.WriteArchive(path, b, names); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := readTar(t, f)
	for name, data := range files {
		if rest, ok := strings.CutPrefix(name, "blobs/sha256/"); ok && digest.FromBytes(data).Encoded() != rest {
			t.Errorf("%s holds %s", name, digest.FromBytes(data))
		}
	}
	var index imgspecv1.Index
	if err := json.Unmarshal(files[imgspecv1.ImageIndexFile], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != len(names) {
		t.Fatalf("index: %d manifests, want one per name (%d)", len(index.Manifests), len(names))
	}
	for i, m := range index.Manifests {
		if got := m.Annotations[imgspecv1.AnnotationRefName]; got != names[i] || m.Digest != index.Manifests[0].Digest {
			t.Errorf("index entry %d: %s named %q, want the one manifest named %q", i, m.Digest, got, names[i])
		}
	}
	var m imgspecv1.Manifest
	if err := json.Unmarshal(files["blobs/sha256/"+index.Manifests[0].Digest.Encoded()], &m); err != nil {
		t.Fatal(err)
	}
	var cfg imgspecv1.Image
	if err := json.Unmarshal(files["blobs/sha256/"+m.Config.Digest.Encoded()], &cfg); err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 1 || m.Layers[0].Digest != b.Layers[0].Digest || m.Layers[0].MediaType != imgspecv1.MediaTypeImageLayerGzip {
		t.Errorf("manifest layers %+v, want the gzip layer %s", m.Layers, b.Layers[0].Digest)
	}
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != b.Layers[0].DiffID || cfg.Config.Labels["which"] != "base" {
		t.Errorf("config %+v, want diff ID %s and the label", cfg, b.Layers[0].DiffID)
	}
	var docker []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &docker); err != nil {
		t.Fatal(err)
	}
	if len(docker) != 1 || strings.Join(docker[0].RepoTags, " ") != strings.Join(names, " ") ||
		docker[0].Config != "blobs/sha256/"+m.Config.Digest.Encoded() || len(docker[0].Layers) != 1 {
		t.Errorf("manifest.json %+v, want the image under %v", docker, names)
	}
}

// TestArchiveFailure: a layer that fails, or an archive given up, leaves
// nothing behind and no file at the path.
func TestArchiveFailure(t *testing.T) {
	d := t.TempDir()
	path := filepath.Join(d, "image.tar")
	a, err := ociarchive.CreateArchive(path, "")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := a.Layer(func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte{1}, 4096))
		return boom
	}); !errors.Is(err, boom) {
		t.Errorf("Layer: %v, want boom", err)
	}
	a.Discard()
	if entries, _ := os.ReadDir(d); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}

	a, err = ociarchive.CreateArchive(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(oneLayer(t, "x", ociarchive.Gzip), []string{"localhost/x:1"}); err == nil || !strings.Contains(err.Error(), "was not added") {
		t.Errorf("Commit with a layer never added: %v", err)
	}
	if entries, _ := os.ReadDir(d); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
	if _, err := ociarchive.CreateArchive(filepath.Join(d, "missing", "image.tar"), ""); err == nil {
		t.Error("archive in a missing directory: no error")
	}
}
