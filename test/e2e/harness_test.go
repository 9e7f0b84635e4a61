// Package e2e runs the built plugin against real parts: the Debian
// docker-registry, Podman in a private storage root, our archive server in
// a container, and libostree pulling and deploying from it.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/fixture"
)

// repoRoot finds the module root, where `make build` put the binaries.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

func pluginBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(repoRoot(t), "bin", "kubectl-ocne_image")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run `make build` first (make test does)", bin)
	}
	return bin
}

// result is one run of the plugin.
type result struct {
	code           int
	stdout, stderr string
}

// plugin runs the plugin with HOME pointing at home.
func plugin(t *testing.T, home string, args ...string) result {
	t.Helper()
	cmd := exec.Command(pluginBinary(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
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

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sample is the fixture commit the tests share: the full tree, with a file
// over 50 MB, committed by the real ostree.
type sample struct{ dir, repo, commit string }

var buildSample = sync.OnceValues(func() (*sample, error) {
	dir, err := os.MkdirTemp("", "e2e-sample-")
	if err != nil {
		return nil, err
	}
	repo, commit, err := fixture.Build(context.Background(), dir, fixture.TreeOptions{BigFileSize: 51 << 20, ExtraFiles: 300})
	return &sample{dir: dir, repo: repo, commit: commit}, err
})

func TestMain(m *testing.M) {
	code := m.Run()
	if s, err := buildSample(); err == nil {
		os.RemoveAll(s.dir)
	}
	os.Exit(code)
}

func getSample(t *testing.T) *sample {
	t.Helper()
	s, err := buildSample()
	if err != nil {
		t.Fatalf("build sample: %v", err)
	}
	return s
}

// writeSampleImage encapsulates the sample commit and writes it to dest.
func writeSampleImage(t *testing.T, dest string, opts ostreeext.ExportOptions) {
	t.Helper()
	s := getSample(t)
	opts.TempDir = t.TempDir()
	b, err := fixture.Encapsulate(context.Background(), s.repo, s.commit, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.RemoveLayerFiles()
	if err := fixture.WriteImage(context.Background(), dest, b); err != nil {
		t.Fatalf("write %s: %v", dest, err)
	}
}

// startRegistry runs Debian's docker-registry (distribution 2.8) on a free
// loopback port with storage in a temp dir, and returns host:port.
func startRegistry(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\nlog:\n  level: error\n  accesslog:\n    disabled: true\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", filepath.Join(dir, "config.yml"))
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("registry log:\n%.4000s", b)
		}
	})
	waitHTTP(t, "http://"+addr+"/v2/", 10*time.Second)
	return addr
}

func waitHTTP(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// podman drives the real Podman CLI in a private storage root, with the
// settings this host needs (runc, lowered rlimits: see machine.md).
type podman struct {
	t    *testing.T
	dir  string
	conf string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "containers.conf")
	const c = `[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`
	if err := os.WriteFile(conf, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &podman{t: t, dir: dir, conf: conf}
	t.Cleanup(func() {
		p.cmd("rm", "--all", "--force", "--time", "0").Run()
	})
	return p
}

func (p *podman) cmd(args ...string) *exec.Cmd {
	base := []string{"--root", filepath.Join(p.dir, "root"), "--runroot", filepath.Join(p.dir, "runroot"), "--storage-driver", "vfs"}
	cmd := exec.Command("podman", append(base, args...)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	return cmd
}

func (p *podman) run(args ...string) string {
	p.t.Helper()
	out, err := p.cmd(args...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
