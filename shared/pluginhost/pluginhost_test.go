package pluginhost

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/shared/config"
)

var dirOnly = Builtins{"dir": DirHost{}}

func TestDiscover(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	write := func(dir, name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+name+dir), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write(first, "ocne-ignition-a", 0o755)
	shadowed := write(second, "ocne-ignition-a", 0o755)
	b := write(second, "ocne-ignition-b", 0o755)
	write(second, "ocne-ignition-c", 0o644) // not executable: not a plugin
	write(second, "other-tool", 0o755)
	sumA, _ := fileSHA256(a)
	// Discover reads only the built-ins' names.
	builtins := Builtins{"dir": DirHost{}, "cluster": DirHost{}}
	infos := Discover([]string{first, second, first}, builtins, map[string]config.IgnitionPlugin{
		"a": {SHA256: strings.ToUpper(sumA)}, "b": {SHA256: sumA}, "missing": {SHA256: sumA},
	})
	got := map[string]Info{}
	for _, i := range infos {
		got[i.Name] = i
	}
	for _, tc := range []struct {
		name, path, checksum string
		shadowed             int
	}{
		{"dir", "", ChecksumBuiltin, 0},
		{"cluster", "", ChecksumBuiltin, 0},
		{"a", a, ChecksumVerified, 1},
		{"b", b, ChecksumMismatch, 0},
		{"missing", "", ChecksumMissing, 0},
	} {
		i := got[tc.name]
		if i.Path != tc.path || i.Checksum != tc.checksum || len(i.Shadowed) != tc.shadowed {
			t.Errorf("%s: %+v, want path %q checksum %q", tc.name, i, tc.path, tc.checksum)
		}
	}
	if got["a"].Shadowed[0] != shadowed {
		t.Errorf("a shadows %v", got["a"].Shadowed)
	}
	if _, ok := got["c"]; ok || len(infos) != 5 {
		t.Errorf("unexpected backends: %+v", infos)
	}
}

// TestDirBackend: files 0600, written whole, URL under base-url; unpublish
// deletes the file; unknown names and bad options are typed errors.
func TestDirBackend(t *testing.T) {
	ctx := context.Background()
	served, ledgerDir := t.TempDir(), t.TempDir()
	b, err := Open(ctx, "dir", Options{Builtins: dirOnly, BackendOptions: map[string]string{"dir": served, "base-url": "http://192.0.2.1:8080/ignition/", "ledger-dir": ledgerDir}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e, err := b.Publish(ctx, []byte(`{"ignition":{"version":"3.4.0"}}`), Publication{})
	if err != nil {
		t.Fatal(err)
	}
	if e.URL != "http://192.0.2.1:8080/ignition/"+e.Name || len(e.Name) != 32 {
		t.Errorf("entry %+v", e)
	}
	fi, err := os.Stat(filepath.Join(served, e.Name))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("published file: %v %v", fi, err)
	}
	if other, _ := b.Publish(ctx, []byte(`{}`), Publication{}); other.Name == e.Name {
		t.Error("two random names are the same")
	}
	if err := b.Unpublish(ctx, e.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(served, e.Name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
	if err := b.Unpublish(ctx, e.Name); !errors.Is(err, ignitionhost.ErrNotFound) {
		t.Errorf("second unpublish: %v", err)
	}
	if entries, _ := os.ReadDir(served); len(entries) != 1 {
		t.Errorf("left in the served dir: %v", entries)
	}

	for _, opts := range []map[string]string{
		{"base-url": "http://x/"},
		{"dir": served},
		{"dir": served, "base-url": "ftp://x/"},
		{"dir": filepath.Join(served, "nope"), "base-url": "http://x/"},
	} {
		bad, _ := Open(ctx, "dir", Options{Builtins: dirOnly, BackendOptions: opts})
		if _, err := bad.Publish(ctx, []byte(`{}`), Publication{}); !errors.Is(err, ignitionhost.ErrInvalidOptions) {
			t.Errorf("options %v: %v", opts, err)
		}
	}
}

func TestUnknownBackend(t *testing.T) {
	_, err := Open(context.Background(), "nope", Options{Dirs: []string{t.TempDir()}})
	if !errors.Is(err, ErrUnknownBackend) {
		t.Errorf("%v", err)
	}
}

func TestConfiguredOptionsUnderFlags(t *testing.T) {
	b, _ := Open(context.Background(), "dir", Options{
		Builtins:       dirOnly,
		Plugins:        map[string]config.IgnitionPlugin{"dir": {Options: map[string]string{"dir": "/a", "base-url": "http://x/"}}},
		BackendOptions: map[string]string{"dir": "/b"},
	})
	if o := b.Options(); o["dir"] != "/b" || o["base-url"] != "http://x/" {
		t.Errorf("options %v", o)
	}
}
