// Package plugins tests Ignition hosting end to end: the plugins we ship
// against real servers (nginx WebDAV, matchbox v0.11.0) through the
// conformance suite, the conformance suite failing a broken plugin, and
// the CLI's faults.
package plugins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/plugins/conformance"
	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/shared/pluginhost"
	"github.com/ocne-image/ocne-image/test/harness"
)

// shipped returns bin/ocne-ignition-<name>, which `make build` writes.
func shipped(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(harness.RepoRoot(t), "bin", pluginhost.Prefix+name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s missing: run `make build` first (make test does)", p)
	}
	return p
}

// buildTestPlugins builds the faulty plugin and the example, which
// `make build` does not ship.
var buildTestPlugins = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "test-plugins-")
	if err != nil {
		return "", err
	}
	for _, pkg := range []string{"test/plugins/misbehave", "plugins/example"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, filepath.Base(pkg)), "github.com/ocne-image/ocne-image/"+pkg).CombinedOutput()
		if err != nil {
			return dir, fmt.Errorf("build %s: %v\n%s", pkg, err, out)
		}
	}
	return dir, nil
})

func testPlugin(t *testing.T, name string) string {
	t.Helper()
	dir, err := buildTestPlugins()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// misbehaving installs the faulty test plugin as ocne-ignition-<mode> in dir.
func misbehaving(t *testing.T, dir, mode string) string {
	t.Helper()
	bin := testPlugin(t, "misbehave")
	p := filepath.Join(dir, pluginhost.Prefix+mode)
	if err := os.Symlink(bin, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMain(m *testing.M) {
	harness.ExitIfShort("every test runs plugins against real nginx or matchbox")
	code := m.Run()
	if dir, _ := buildTestPlugins(); dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// TestConformanceShippedBackends runs the contract against every backend
// we ship, each on a real server.
func TestConformanceShippedBackends(t *testing.T) {
	dav := harness.StartWebDAV(t)
	mb := harness.StartMatchbox(t)
	openDir := filepath.Join(dav.Root, "open")
	for _, tc := range []struct {
		name string
		cfg  conformance.Config
	}{
		{"dir behind nginx", conformance.Config{Builtin: "dir", Host: pluginhost.DirHost{}, Options: map[string]string{"dir": openDir, "base-url": dav.Base + "/open/"}}},
		{"http-put basic auth", conformance.Config{Plugin: shipped(t, "http-put"), Options: map[string]string{"base-url": dav.Base + "/basic/", "username": dav.User, "password": dav.Password}}},
		{"http-put bearer token", conformance.Config{Plugin: shipped(t, "http-put"), Options: map[string]string{"base-url": dav.Base + "/token/", "token": dav.Token}}},
		{"example behind nginx", conformance.Config{Plugin: testPlugin(t, "example"), Options: map[string]string{"dir": openDir, "base-url": dav.Base + "/open/"}}},
		{"matchbox", conformance.Config{Plugin: shipped(t, "matchbox"), Options: mb.Options()}},
		{"matchbox by uuid", conformance.Config{Plugin: shipped(t, "matchbox"), Options: mb.Options(), Selector: map[string]string{"uuid": "1b4c5e8f-6a9b-4c1d-8e3f-40aa12345678"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Options["ledger-dir"] = t.TempDir()
			conformance.Run(t, tc.cfg)
		})
	}
}

// TestConformanceCommand runs the suite the way a plugin author does, with
// `go test ./plugins/conformance -plugin PATH`: it passes for http-put and
// fails for the broken plugin, proving it can fail.
func TestConformanceCommand(t *testing.T) {
	dav := harness.StartWebDAV(t)
	open := filepath.Join(dav.Root, "open")
	bin := t.TempDir()
	for _, tc := range []struct {
		plugin string
		pass   bool
	}{
		{shipped(t, "http-put"), true},
		{misbehaving(t, bin, "broken"), false},
	} {
		t.Run(filepath.Base(tc.plugin), func(t *testing.T) {
			cmd := exec.Command("go", "test", "-count=1", "./plugins/conformance", "-plugin", tc.plugin,
				"-opt", "base-url="+dav.Base+"/open/", "-opt", "dir="+open, "-opt", "ledger-dir="+t.TempDir(), "-v")
			cmd.Dir = harness.RepoRoot(t)
			out, err := cmd.CombinedOutput()
			if tc.pass && err != nil {
				t.Fatalf("conformance failed for %s: %v\n%s", tc.plugin, err, out)
			}
			if !tc.pass {
				if err == nil {
					t.Fatalf("conformance passed a broken plugin:\n%s", out)
				}
				for _, check := range []string{"--- FAIL: TestConformance/ListReportsItWithExpiry", "--- FAIL: TestConformance/UnpublishDeletes"} {
					if !bytes.Contains(out, []byte(check)) {
						t.Errorf("missing %q in:\n%s", check, out)
					}
				}
			}
		})
	}
}

// TestHostSurvivesPluginFaults: in one host process, plugins that crash
// mid-call or speak another protocol fail with one clear line, leave no
// process behind, and a good backend still works afterwards.
func TestHostSurvivesPluginFaults(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := pluginhost.Options{Dirs: []string{dir}}

	b, err := pluginhost.Open(ctx, filepath.Base(misbehaving(t, dir, "crash"))[len(pluginhost.Prefix):], opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Health(ctx); err != nil {
		t.Fatalf("health before the crash: %v", err)
	}
	_, err = b.Publish(ctx, []byte(`{}`), pluginhost.Publication{})
	b.Close()
	if !errors.Is(err, ignitionhost.ErrPluginGone) || !strings.Contains(err.Error(), "panic: deliberate crash in Publish") || strings.Contains(err.Error(), "\n") {
		t.Errorf("crash mid-call: %v", err)
	}

	misbehaving(t, dir, "wrongversion")
	_, err = pluginhost.Open(ctx, "wrongversion", opts)
	if err == nil || !strings.Contains(err.Error(), "Plugin version: 99") || !strings.Contains(err.Error(), "protocol 1") || strings.Contains(err.Error(), "\n") {
		t.Errorf("wrong protocol version: %v", err)
	}

	dav := harness.StartWebDAV(t)
	opts.BackendOptions = map[string]string{"base-url": dav.Base + "/open/", "ledger-dir": t.TempDir()}
	os.Symlink(shipped(t, "http-put"), filepath.Join(dir, pluginhost.Prefix+"http-put"))
	good, err := pluginhost.Open(ctx, "http-put", opts)
	if err != nil {
		t.Fatalf("a good plugin after the faulty ones: %v", err)
	}
	defer good.Close()
	e, err := good.Publish(ctx, []byte(`{"ignition":{"version":"3.4.0"}}`), pluginhost.Publication{})
	if err != nil {
		t.Fatalf("publish after the faulty plugins: %v", err)
	}
	resp, err := http.Get(e.URL)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %v", e.URL, resp, err)
	}
	resp.Body.Close()
	assertNoFaultyPluginLeft(t)
}

// assertNoFaultyPluginLeft fails if a faulty plugin process still runs.
func assertNoFaultyPluginLeft(t *testing.T) {
	t.Helper()
	// Give a killed plugin's process a moment to be reaped.
	for range 20 {
		if !pluginRunning(testPlugin(t, "misbehave")) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Error("a faulty plugin process is left behind")
}
