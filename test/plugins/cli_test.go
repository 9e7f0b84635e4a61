package plugins

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/test/harness"
)

type result struct {
	code           int
	stdout, stderr string
}

// cli runs bin/kubectl-ocne_image with HOME=home and a PATH without our
// bin/, so only the plugins a test installs are found.
func cli(t *testing.T, home string, stdin string, args ...string) result {
	t.Helper()
	bin := filepath.Join(harness.RepoRoot(t), "bin", "kubectl-ocne_image")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run `make build` first (make test does)", bin)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG=", "OCNE_DEFAULTS=", "OCNE_IMAGE_CONFIG=", "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run plugin: %v", err)
	}
	return r
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// home makes a HOME with the shipped plugins and the faulty ones in
// ~/.ocne/plugins, and an ocne-image.yaml that pins http-put's checksum,
// gives matchbox a wrong one, and sets http-put's default options.
func home(t *testing.T, dav *harness.WebDAV) string {
	t.Helper()
	h := t.TempDir()
	plugins := filepath.Join(h, ".ocne", "plugins")
	os.MkdirAll(plugins, 0o755)
	for _, name := range []string{"http-put", "matchbox"} {
		if err := os.Symlink(shipped(t, name), filepath.Join(plugins, "ocne-ignition-"+name)); err != nil {
			t.Fatal(err)
		}
	}
	misbehaving(t, plugins, "crash")
	misbehaving(t, plugins, "wrongversion")
	own := "ignitionPlugins:\n" +
		"  http-put:\n    sha256: " + sha(t, shipped(t, "http-put")) + "\n" +
		"    options:\n      base-url: " + dav.Base + "/basic/\n      username: " + dav.User + "\n" +
		"  matchbox:\n    sha256: " + strings.Repeat("ab", 32) + "\n" +
		"  gone:\n    sha256: " + strings.Repeat("cd", 32) + "\n"
	if err := os.WriteFile(filepath.Join(h, ".ocne", "ocne-image.yaml"), []byte(own), 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPluginsList(t *testing.T) {
	dav := harness.StartWebDAV(t)
	h := home(t, dav)
	r := cli(t, h, "", "plugins", "list", "-o", "json")
	if r.code != 0 {
		t.Fatalf("plugins list: %d %s", r.code, r.stderr)
	}
	var infos []struct{ Name, Kind, Path, SHA256, Checksum string }
	if err := json.Unmarshal([]byte(r.stdout), &infos); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	got := map[string]string{}
	for _, i := range infos {
		got[i.Name] = i.Kind + "/" + i.Checksum
	}
	want := map[string]string{
		"dir": "built-in/built-in", "http-put": "plugin/verified", "matchbox": "plugin/mismatch",
		"crash": "plugin/not configured", "wrongversion": "plugin/not configured", "gone": "plugin/plugin missing",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if r := cli(t, h, "", "plugins", "list"); r.code != 0 || !strings.Contains(r.stdout, "http-put") {
		t.Errorf("plugins list (text): %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, h, "", "__complete", "ignition", "publish", "--backend", "")
	for _, name := range []string{"dir\n", "http-put\n", "matchbox\n"} {
		if !strings.Contains(r.stdout, name) || strings.Contains(r.stdout, "gone\n") {
			t.Errorf("--backend completion lacks %q (or offers a missing plugin): %s", name, r.stdout)
		}
	}
}

// TestIgnitionPublishCLI publishes through the http-put plugin to nginx
// with the password from a file, fetches it, lists it and unpublishes it;
// the password never shows, even with -v.
func TestIgnitionPublishCLI(t *testing.T) {
	dav := harness.StartWebDAV(t)
	h := home(t, dav)
	pwFile := filepath.Join(h, "pw")
	os.WriteFile(pwFile, []byte(dav.Password+"\n"), 0o600)
	config := `{"ignition":{"version":"3.4.0"}}`
	r := cli(t, h, config, "ignition", "publish", "--backend", "http-put", "--publish-opt", "password-file="+pwFile, "-v", "-o", "json", "-")
	if r.code != 0 {
		t.Fatalf("publish: %d %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, dav.Password) {
		t.Errorf("the password shows in the output:\n%s\n%s", r.stdout, r.stderr)
	}
	var e struct{ Name, URL string }
	json.Unmarshal([]byte(r.stdout), &e)
	if len(e.Name) != 32 || !strings.HasPrefix(e.URL, dav.Base+"/basic/") {
		t.Fatalf("published as %+v: want a random 32-character name under /basic/", e)
	}
	if got := get(t, e.URL); got != config {
		t.Errorf("GET %s = %q", e.URL, got)
	}
	r = cli(t, h, "", "ignition", "list", "--backend", "http-put", "--publish-opt", "password-file="+pwFile)
	if r.code != 0 || !strings.Contains(r.stdout, e.Name) || !strings.Contains(r.stdout, "active") {
		t.Errorf("list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, h, "", "ignition", "unpublish", "--backend", "http-put", "--publish-opt", "password-file="+pwFile, e.Name)
	if r.code != 0 {
		t.Fatalf("unpublish: %d %s", r.code, r.stderr)
	}
	if resp, err := http.Get(e.URL); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("after unpublish GET %s: %v %v", e.URL, resp.Status, err)
	}
	r = cli(t, h, "", "ignition", "unpublish", "--backend", "http-put", "--publish-opt", "password-file="+pwFile, e.Name)
	if r.code != 1 || !strings.Contains(r.stderr, "not published") {
		t.Errorf("second unpublish: %d %s", r.code, r.stderr)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestIgnitionPublishFaults: every bad input or fault is one line on
// stderr, the right exit code, nothing published, no plugin left running.
func TestIgnitionPublishFaults(t *testing.T) {
	dav := harness.StartWebDAV(t)
	h := home(t, dav)
	ign := filepath.Join(h, "node.ign")
	os.WriteFile(ign, []byte(`{"ignition":{"version":"3.4.0"}}`), 0o600)
	notJSON := filepath.Join(h, "node.yaml")
	os.WriteFile(notJSON, []byte("variant: fcos\n"), 0o600)
	pw := "password=" + dav.Password
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown backend", []string{"--backend", "nope", ign}, 2, `unknown Ignition hosting backend "nope"`},
		{"checksum mismatch", []string{"--backend", "matchbox", ign}, 1, "not running it"},
		{"crash mid-call", []string{"--backend", "crash", ign}, 1, "exited mid-call: panic: deliberate crash in Publish"},
		{"wrong protocol version", []string{"--backend", "wrongversion", ign}, 1, "Plugin version: 99"},
		{"server refuses the PUT", []string{"--backend", "http-put", "--publish-opt", "base-url=" + dav.Base + "/readonly/", ign}, 1, "server answered 405 Method Not Allowed"},
		{"wrong password", []string{"--backend", "http-put", "--publish-opt", "password=wrong", ign}, 1, "server answered 401 Unauthorized: check the credentials"},
		{"missing option", []string{"--backend", "dir", ign}, 2, "option dir is required"},
		{"not JSON", []string{"--backend", "http-put", "--publish-opt", pw, notJSON}, 2, "is not JSON"},
		{"bad name", []string{"--backend", "http-put", "--publish-opt", pw, "--name", "../etc", ign}, 2, "--name"},
		{"bad publish-opt", []string{"--backend", "http-put", "--publish-opt", "nokey", ign}, 2, "want KEY=VALUE"},
		{"no backend", []string{ign}, 2, "--backend is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, h, "", append([]string{"ignition", "publish"}, tc.args...)...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			// A plugin run without a pinned checksum warns first.
			if strings.HasPrefix(lines[0], "warning: ") {
				lines = lines[1:]
			}
			t.Logf("exit %d: %s", r.code, r.stderr)
			if r.code != tc.code || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and one line with %q", r.code, r.stderr, tc.code, tc.want)
			}
			if strings.Contains(r.stderr, dav.Password) {
				t.Errorf("the password shows: %s", r.stderr)
			}
		})
	}
	for _, sub := range []string{"basic", "readonly"} {
		if entries, _ := os.ReadDir(filepath.Join(dav.Root, sub)); len(entries) != 0 {
			t.Errorf("%s has files after failed publishes: %v", sub, entries)
		}
	}
	assertNoFaultyPluginLeft(t)
}

// TestCtrlCStopsPlugin: Ctrl-C during a publish that never finishes ends
// the command and its plugin process.
func TestCtrlCStopsPlugin(t *testing.T) {
	h := t.TempDir()
	plugins := filepath.Join(h, ".ocne", "plugins")
	os.MkdirAll(plugins, 0o755)
	misbehaving(t, plugins, "hang")
	cmd := exec.Command(filepath.Join(harness.RepoRoot(t), "bin", "kubectl-ocne_image"), "ignition", "publish", "--backend", "hang", "-")
	cmd.Env = append(os.Environ(), "HOME="+h, "PATH=/usr/bin:/bin")
	cmd.Stdin = strings.NewReader("{}")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bin := testPlugin(t, "misbehave")
	deadline := time.Now().Add(20 * time.Second)
	for !pluginRunning(bin) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the plugin never started: %s", errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let the Publish call reach the plugin
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := cmd.ProcessState.ExitCode(); code != 1 || strings.Count(strings.TrimSpace(errOut.String()), "\n") > 1 {
			t.Errorf("after Ctrl-C: exit %d (%v), stderr:\n%s", code, err, errOut.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the command did not stop on Ctrl-C")
	}
	assertNoFaultyPluginLeft(t)
}

func pluginRunning(bin string) bool {
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		if exe, err := os.Readlink(p); err == nil && exe == bin {
			return true
		}
	}
	return false
}
