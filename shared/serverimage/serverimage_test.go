package serverimage

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ocne-image/ocne-image/shared/serverimage/layout"
)

// TestBuildConfig checks what a container runtime starts the server with.
func TestBuildConfig(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "archive")
	if err := os.MkdirAll(filepath.Join(archive, "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(archive, "config"), []byte("[core]\nmode=archive-z2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	server := filepath.Join(dir, "server")
	if err := os.WriteFile(server, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := Build(archive, Options{Arch: "amd64", ServerBinary: server, TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.RemoveLayerFiles()

	c := b.Config.Config
	for _, tc := range []struct {
		what      string
		got, want []string
	}{
		{"entrypoint", c.Entrypoint, []string{layout.ServerPath}},
		{"cmd", c.Cmd, []string{"--root", layout.WebRoot, "--listen", ":80"}},
		// The runtime setting that halves the server's CPU per request
		// under load; see ServerGODEBUG.
		{"env", c.Env, []string{"GODEBUG=schedtrace=2147483647"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s = %q, want %q", tc.what, tc.got, tc.want)
		}
	}
	if _, ok := c.ExposedPorts[layout.Port]; !ok {
		t.Errorf("exposed ports %v lack %s", c.ExposedPorts, layout.Port)
	}
	if len(b.Layers) != 2 {
		t.Errorf("%d layers, want 2 (server, archive)", len(b.Layers))
	}
}
