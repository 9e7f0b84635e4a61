package cmd

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/builderimage"
)

// TestBuilderImageBinary: builder-image packs the builder program found
// beside the plugin, else the plugin itself, and the entrypoint runs
// either with the pod's arguments.
func TestBuilderImageBinary(t *testing.T) {
	for _, tc := range []struct {
		name           string
		beside         bool
		wantPath       string
		wantContent    string
		wantEntrypoint []string
	}{
		{"builder beside the plugin", true, builderimage.BinaryPath, "builder program", []string{builderimage.BinaryPath}},
		{"plugin alone", false, builderimage.PluginPath, "whole plugin", []string{builderimage.PluginPath, "builder"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			self := filepath.Join(dir, "kubectl-ocne_image")
			writeFile(t, self, "whole plugin")
			if tc.beside {
				writeFile(t, filepath.Join(dir, builderimage.BinaryName), "builder program")
			}
			out := filepath.Join(t.TempDir(), "builder.tar")
			if _, err := writeBuilderImage(context.Background(), self, out, nil, "", true); err != nil {
				t.Fatal(err)
			}
			files, cfg := readOCIArchive(t, out)
			var bins []string
			for name := range files {
				if strings.HasPrefix(name, "usr/bin/") {
					bins = append(bins, "/"+name)
				}
			}
			if len(bins) != 1 || bins[0] != tc.wantPath {
				t.Fatalf("layer holds %v, want only %s", bins, tc.wantPath)
			}
			if got := files[strings.TrimPrefix(tc.wantPath, "/")]; got != tc.wantContent {
				t.Errorf("%s holds %q, want the %s", tc.wantPath, got, tc.wantContent)
			}
			if !slices.Equal(cfg.Config.Entrypoint, tc.wantEntrypoint) {
				t.Errorf("entrypoint %q, want %q", cfg.Config.Entrypoint, tc.wantEntrypoint)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

// readOCIArchive reads the one image of an OCI archive: its layer's
// regular files (path without the leading slash: content) and its config.
func readOCIArchive(t *testing.T, path string) (map[string]string, imgspecv1.Image) {
	t.Helper()
	blobs := untar(t, path, false)
	var index imgspecv1.Index
	unmarshal(t, blobs["index.json"], &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("index.json: %d manifests, want 1", len(index.Manifests))
	}
	blob := func(d imgspecv1.Descriptor) string {
		return blobs["blobs/"+d.Digest.Algorithm().String()+"/"+d.Digest.Encoded()]
	}
	var m imgspecv1.Manifest
	unmarshal(t, blob(index.Manifests[0]), &m)
	var cfg imgspecv1.Image
	unmarshal(t, blob(m.Config), &cfg)
	if len(m.Layers) != 1 {
		t.Fatalf("%d layers, want 1", len(m.Layers))
	}
	layer := filepath.Join(t.TempDir(), "layer.tar.gz")
	writeFile(t, layer, blob(m.Layers[0]))
	return untar(t, layer, true), cfg
}

// untar returns the regular files of a (gzipped) tar file by name.
func untar(t *testing.T, path string, gzipped bool) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = bytes.NewReader(data)
	if gzipped {
		if r, err = gzip.NewReader(r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	files := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[strings.TrimPrefix(h.Name, "/")] = string(b)
		}
	}
}

func unmarshal(t *testing.T, data string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("%.40q: %v", data, err)
	}
}
