// Package harness starts the real services tests run against: Debian's
// docker-registry, and Podman (Debian's 4.3 and a built 5) in a private
// storage root.
package harness

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// ExitIfShort is for the TestMain of a package whose every test starts
// real processes: under -short (make test-unit: Go only) it prints why in
// one line and exits 0 before any test runs.
func ExitIfShort(why string) {
	flag.Parse()
	if testing.Short() {
		fmt.Printf("skipped: -short: %s\n", why)
		os.Exit(0)
	}
}

// FreePort returns a loopback TCP port nobody listens on.
func FreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartRegistry runs Debian's docker-registry (distribution 2.8) on a free
// loopback port with storage in a temp dir, and returns host:port.
func StartRegistry(t *testing.T) string {
	t.Helper()
	return StartRegistryWith(t, RegistryOptions{})
}

// RegistryOptions vary StartRegistryWith.
type RegistryOptions struct {
	Host           string // an address of this machine; default 127.0.0.1
	User, Password string // require these credentials (htpasswd)
}

// StartRegistryWith is StartRegistry on another address, or with
// authentication.
func StartRegistryWith(t *testing.T, o RegistryOptions) string {
	t.Helper()
	dir := t.TempDir()
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", o.Host+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\nlog:\n  level: error\n  accesslog:\n    disabled: true\n", filepath.Join(dir, "data"), addr)
	if o.User != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.Password), bcrypt.DefaultCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(o.User+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: test\n    path: %s\n", htpasswd)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", filepath.Join(dir, "config.yml"))
	StartServer(t, "docker-registry", cmd, filepath.Join(dir, "registry.log"), "")
	WaitHTTP(t, "http://"+addr+"/v2/", 10*time.Second)
	return addr
}

// WaitHTTP polls url until it answers below 500.
func WaitHTTP(t *testing.T, url string, timeout time.Duration) {
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

// Podman drives a real Podman CLI in a private storage root, with the
// settings this host needs (runc, lowered rlimits: see machine.md).
type Podman struct {
	t   *testing.T
	dir string
	bin string
	env []string
	// Version is the Podman release the service reports, e.g. "4.3.1".
	Version string
}

// Podmans are the Podman releases podman-ocne is tested against: Debian 12's
// 4.3 and the Podman 5 test/tools/podman5 builds (most users run 5).
var Podmans = []string{"4.3", "5"}

// NewPodman sets up a private Debian Podman 4.3 and removes its containers
// at cleanup.
func NewPodman(t *testing.T) *Podman {
	t.Helper()
	return NewPodmanRelease(t, "4.3")
}

// NewPodmanRelease is NewPodman for one of Podmans.
//
// Podman 5 on this host's cgroup v1 "hybrid" mounts (no systemd as pid 1,
// no crun) runs containers, published ports and all, with the settings of
// test/scripts/containers.conf, plus two. What was seen with 5.8.2 here:
//   - cgroup_manager "cgroupfs": with "systemd" runc fails ("systemd not
//     running on this host, cannot use systemd cgroups manager");
//   - runtime "runc": crun is not installed, and Debian's fails on hybrid
//     cgroups (machine.md); runc and Debian's conmon 2.1.6 work;
//   - netavark (5 has no CNI): Debian's 1.4.0 with aardvark-dns, unpacked
//     by test/tools/podman5/build.sh and found through the helper binaries
//     dir compiled into the binary;
//   - the lowered rlimits are not needed by 5 (it caps its defaults at the
//     hard limit), but kept: one containers.conf for both;
//   - PODMAN_IGNORE_CGROUPSV1_WARNING: else every command warns on stderr
//     that cgroups v1 is deprecated, into output tests read;
//   - test/scripts/containers-podman5.conf (CONTAINERS_CONF_OVERRIDE, read
//     after CONTAINERS_CONF by 5, unknown to 4.3): the default network on
//     10.99.0.0/16. A cni-podman0 bridge of 4.3 holds the route of the
//     default 10.88.0.0/16; with it, `run -p` succeeds but nothing answers
//     on the published port.
func NewPodmanRelease(t *testing.T, release string) *Podman {
	t.Helper()
	scripts := filepath.Join(RepoRoot(t), "test", "scripts")
	p := &Podman{t: t, bin: "podman", env: []string{"CONTAINERS_CONF=" + filepath.Join(scripts, "containers.conf")}}
	switch release {
	case "4.3":
	case "5":
		p.bin = Podman5(t)
		p.env = append(p.env, "CONTAINERS_CONF_OVERRIDE="+filepath.Join(scripts, "containers-podman5.conf"),
			"PODMAN_IGNORE_CGROUPSV1_WARNING=1")
	default:
		t.Fatalf("no Podman release %q: use one of %v", release, Podmans)
	}
	// Not t.TempDir(): Podman refuses a runroot longer than 50 characters,
	// and test names make long paths.
	dir, err := os.MkdirTemp("", "pm-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() {
		defer os.RemoveAll(dir)
		p.Cmd("rm", "--all", "--force", "--time", "0").Run()
	})
	p.Version = p.Run("version", "--format", "{{.Client.Version}}")
	if !strings.HasPrefix(p.Version, release+".") {
		t.Fatalf("%s is Podman %s, not %s", p.bin, p.Version, release)
	}
	return p
}

// Podman5 is the podman binary test/tools/podman5/build.sh built:
// $OCNE_TEST_PODMAN5, else where the build caches it.
func Podman5(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("OCNE_TEST_PODMAN5")
	if bin == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(home, ".cache", "ocne-image", "podman5", "bin", "podman")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Podman 5 missing (%v): run `make podman5` (make test does)", err)
	}
	return bin
}

// OstreeNew is a current libostree client, $OCNE_TEST_OSTREE_NEW (make
// test sets it to what test/tools/ostree/install.sh installs), for the
// tests that need more than Debian 12's 2022.7, the default client
// everywhere else. The test is skipped when it is unset.
func OstreeNew(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("OCNE_TEST_OSTREE_NEW")
	if bin == "" {
		t.Skip("OCNE_TEST_OSTREE_NEW unset: set it to a current ostree CLI, e.g. the one `test/tools/ostree/install.sh` prints (make test does)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("OCNE_TEST_OSTREE_NEW: %v: run test/tools/ostree/install.sh", err)
	}
	return bin
}

// Cmd returns a podman command on the private storage.
func (p *Podman) Cmd(args ...string) *exec.Cmd {
	base := []string{"--root", filepath.Join(p.dir, "root"), "--runroot", filepath.Join(p.dir, "runroot"), "--storage-driver", "vfs"}
	cmd := exec.Command(p.bin, append(base, args...)...)
	cmd.Env = append(os.Environ(), p.env...)
	return cmd
}

// Service runs the real Podman REST service on the private storage, as
// `podman system service` does for users, and returns its unix:// URL. It
// is killed at cleanup.
func (p *Podman) Service() string {
	p.t.Helper()
	return p.ServiceHiding()
}

// ServiceHiding is Service in a mount namespace of its own with an empty
// tmpfs over each of dirs: files there exist for the client but not for
// the service, as for a service in a VM or a container behind a
// forwarded socket.
func (p *Podman) ServiceHiding(dirs ...string) string {
	p.t.Helper()
	sock := filepath.Join(p.dir, "podman.sock")
	// Info level: the service writes an access log line per request
	// (Requests reads them).
	cmd := p.Cmd("--log-level=info", "system", "service", "--time=0", "unix://"+sock)
	if len(dirs) > 0 {
		// unshare execs sh, which execs podman: the pid StartServer kills.
		script := `while [ "$1" != -- ]; do mount -t tmpfs tmpfs "$1" || exit 1; shift; done; shift; exec "$@"`
		args := append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh"}, dirs...)
		args = append(append(args, "--"), cmd.Args...)
		hidden := exec.Command("unshare", args...)
		hidden.Env = cmd.Env
		cmd = hidden
	}
	StartServer(p.t, "podman system service", cmd, filepath.Join(p.dir, "service.log"), "")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return "unix://" + sock
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("podman system service did not create %s", sock)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Requests are the requests the service answered so far, from its access
// log, as "METHOD PATH STATUS" with the query left off, e.g.
// "POST /v5.8.2/libpod/images/load 200".
func (p *Podman) Requests() []string {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, "service.log"))
	if err != nil {
		p.t.Fatal(err)
	}
	var reqs []string
	for _, line := range strings.Split(string(b), "\n") {
		// @ - - [date] "POST /v5.8.2/libpod/images/load HTTP/1.1" 200 88 "" "Go-http-client/1.1"
		_, rest, ok := strings.Cut(line, `] "`)
		if !strings.HasPrefix(line, "@ ") || !ok {
			continue
		}
		req, rest, _ := strings.Cut(rest, `" `)
		f, status := strings.Fields(req), strings.Fields(rest)
		if len(f) < 2 || len(status) < 1 {
			continue
		}
		path, _, _ := strings.Cut(f[1], "?")
		reqs = append(reqs, f[0]+" "+path+" "+status[0])
	}
	return reqs
}

// Containers lists the names of all containers in the private storage.
func (p *Podman) Containers() []string {
	p.t.Helper()
	return strings.Fields(p.Run("ps", "--all", "--format", "{{.Names}}"))
}

// Run runs podman and fails the test on error.
func (p *Podman) Run(args ...string) string {
	p.t.Helper()
	out, err := p.Cmd(args...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// RepoRoot finds the module root, where `make build` puts the binaries.
func RepoRoot(t *testing.T) string {
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

// Run runs a command and returns its trimmed combined output, failing the
// test (with that output) if it fails.
func Run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
