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
	"k8s.io/cli-runtime/pkg/genericiooptions"

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
			c, o := newCmdBuilderImage(genericiooptions.NewTestIOStreamsDiscard())
			o.self = self
			parseFlags(t, c, "--output-file", out)
			if err := o.Complete(); err != nil {
				t.Fatal(err)
			}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			if _, err := o.write(context.Background()); err != nil {
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

func TestBuilderImageValidate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b.tar")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no target", nil, "pass one of --registry, --destination and --output-file"},
		{"two targets", []string{"--registry", "r.example.com", "--output-file", out}, "pass one of --registry, --destination and --output-file"},
		{"registry with a transport", []string{"--registry", "docker://r.example.com"}, `--registry "docker://r.example.com": give a registry host`},
		{"registry that is no host", []string{"--registry", "R E"}, `--registry "R E": give a registry host`},
		{"destination without a transport", []string{"--destination", "r.example.com/b:1"}, "--destination: "},
		{"the file twice", []string{"--output-file", out, "-o", "a.tar"}, "pass the file once, as --output-file"},
		{"a registry", []string{"--registry", "r.example.com:5000"}, ""},
		{"a destination", []string{"--destination", "oci:" + out}, ""},
		{"a file", []string{"--output-file", out}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, o := newCmdBuilderImage(genericiooptions.NewTestIOStreamsDiscard())
			o.self = filepath.Join(t.TempDir(), "kubectl-ocne_image")
			parseFlags(t, c, tt.args...)
			err := o.Complete()
			if err == nil {
				err = o.Validate()
			}
			checkErr(t, err, tt.want, true)
		})
	}
}

// TestBuilderImageComplete: --ca-file defaults to this host's bundle.
func TestBuilderImageComplete(t *testing.T) {
	c, o := newCmdBuilderImage(genericiooptions.NewTestIOStreamsDiscard())
	o.self = filepath.Join(t.TempDir(), "kubectl-ocne_image")
	parseFlags(t, c, "--output-file", "b.tar")
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if o.binary != o.self || !o.plugin {
		t.Errorf("image of %s (plugin %v), want the plugin itself", o.binary, o.plugin)
	}
	if !slices.Contains(append(hostCABundles, ""), o.CAFile) {
		t.Errorf("CA file %q, want one of %v or none", o.CAFile, hostCABundles)
	}
	parseFlags(t, c, "--ca-file", "my-ca.pem")
	if err := o.Complete(); err != nil || o.CAFile != "my-ca.pem" {
		t.Errorf("--ca-file became %q (%v)", o.CAFile, err)
	}
}
