package e2e

import (
	"archive/tar"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/fixture"
	"github.com/ocne-image/ocne-image/test/harness"
)

// mountTmpfs mounts a tmpfs at a new temp dir and unmounts it at cleanup.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	harness.Run(t, "mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir)
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// TestCreateBadInput runs the plugin on bad input: each case must fail
// with a one-line error naming the problem, the documented exit code, and
// no output (or half-written work) left behind.
func TestCreateBadInput(t *testing.T) {
	layout := t.TempDir()
	writeSampleImage(t, "oci:"+layout+":1.31", ostreeext.ExportOptions{})
	plain := t.TempDir()
	if err := fixture.WritePlainImage(context.Background(), "oci:"+plain+":1.31", t.TempDir()); err != nil {
		t.Fatal(err)
	}
	armOnly := t.TempDir()
	writeSampleImage(t, "oci:"+armOnly+":1.31", ostreeext.ExportOptions{Arch: "arm64"})
	truncated := t.TempDir()
	writeSampleImage(t, "oci:"+truncated+":1.31", ostreeext.ExportOptions{})
	truncateBiggestBlob(t, truncated)
	escaping := t.TempDir()
	writeEscapingImage(t, "oci:"+escaping+":1.31")
	badConfig := filepath.Join(t.TempDir(), "cluster.yaml")
	os.WriteFile(badConfig, []byte("osRegistry: [unclosed\n"), 0o644)
	_, twoImages := twoImageFiles(t)
	multiLayer := t.TempDir()
	writeSampleImage(t, "oci:"+multiLayer+":1.31", ostreeext.ExportOptions{Layers: 2})
	// Layer 1: the ostree-ext labels name the last layer's diff ID.
	badDiffID, wrongDiffIDErr := breakDiffID(t, "oci:"+multiLayer+":1.31", 0)
	badRegistries := filepath.Join(t.TempDir(), "registries.conf")
	os.WriteFile(badRegistries, []byte("[[registry]]\nlocation = \"a\"\nmirror = [ { location = \n"), 0o644)

	tests := []struct {
		name     string
		args     []string
		output   func(t *testing.T) string // the --output-file to pass and check
		wantCode int
		wantErr  string
	}{
		{name: "unknown transport", args: []string{"--os-registry", "ftp://example.com/ock"}, wantCode: 1, wantErr: `unknown transport "ftp"`},
		{name: "missing tag", args: []string{"--os-registry", "oci:" + layout, "--os-tag", "9.99"}, wantCode: 1, wantErr: `has no image "9.99"; it holds 1.31`},
		{name: "two images in an archive and no tag", args: []string{"--os-registry", "oci-archive:" + twoImages}, wantCode: 1,
			wantErr: "holds 2 images (1.31, 1.32) and no name was given: choose one with --os-tag"},
		{name: "tag not in the archive", args: []string{"--os-registry", "oci-archive:" + twoImages, "--os-tag", "1.30"}, wantCode: 1,
			wantErr: `has no image "1.30"; it holds 1.31, 1.32`},
		{name: "missing archive", args: []string{"--os-registry", "oci-archive:/nonexistent/ock.tar"}, wantCode: 1,
			wantErr: "/nonexistent/ock.tar: no such file or directory"},
		{name: "wrong diff_id", args: []string{"--os-registry", "oci:" + badDiffID}, wantCode: 1,
			wantErr: wrongDiffIDErr},
		{name: "tag for a dir: source", args: []string{"--os-registry", "dir:" + t.TempDir(), "--os-tag", "1.31"}, wantCode: 2,
			wantErr: "holds exactly one image and no names"},
		{name: "plain container image", args: []string{"--os-registry", "oci:" + plain}, wantCode: 1, wantErr: "not an OSTree container image"},
		{name: "arch not in the image", args: []string{"--os-registry", "oci:" + armOnly, "--arch", "amd64"}, wantCode: 1, wantErr: "is an image for arm64"},
		{name: "truncated layer", args: []string{"--os-registry", "oci:" + truncated}, wantCode: 1, wantErr: "truncated"},
		{name: "../ entry in a layer", args: []string{"--os-registry", "oci:" + escaping}, wantCode: 1, wantErr: "escapes the image root"},
		{name: "unwritable output directory", args: []string{"--os-registry", "oci:" + layout},
			output: func(t *testing.T) string {
				return filepath.Join(mountTmpfs(t, "ro,size=1m"), "ock.tar")
			}, wantCode: 1, wantErr: "read-only file system"},
		{name: "full disk", args: []string{"--os-registry", "oci:" + layout},
			output: func(t *testing.T) string {
				return filepath.Join(mountTmpfs(t, "size=8m"), "ock.tar")
			}, wantCode: 1, wantErr: "no space left on device"},
		{name: "unsupported arch", args: []string{"--arch", "s390x"}, wantCode: 2, wantErr: "invalid architecture"},
		{name: "bad version", args: []string{"--version", "latest"}, wantCode: 2, wantErr: "invalid Kubernetes version"},
		{name: "bad type", args: []string{"--type", "iso"}, wantCode: 2, wantErr: "unsupported --type"},
		{name: "bad config file", args: []string{"--config", badConfig}, wantCode: 2, wantErr: "cluster.yaml"},
		{name: "bad registries.conf", args: []string{"--registries-conf", badRegistries}, wantCode: 2, wantErr: "--registries-conf: registries.conf " + badRegistries},
		{name: "missing registries.conf", args: []string{"--registries-conf", "/nonexistent/registries.conf"}, wantCode: 2, wantErr: "no such file"},
		{name: "ref the commit is not bound to", args: []string{"--os-registry", "oci:" + layout, "--ref", "custom"}, wantCode: 1,
			wantErr: `is bound to ref(s) "ock" (ostree.ref-binding), and libostree refuses to pull it as "custom": pass one of them as --ref`},
		{name: "bad ref", args: []string{"--ref", "a ref"}, wantCode: 2, wantErr: `--ref: invalid ref name "a ref"`},
		{name: "unknown flag", args: []string{"--no-such-flag"}, wantCode: 2, wantErr: "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			out := filepath.Join(t.TempDir(), "out", "ock.tar")
			if tt.output != nil {
				out = tt.output(t)
			}
			tmp := t.TempDir()
			args := append([]string{"create", "--local", "--version", "1.31", "--output-file", out}, tt.args...)
			r := pluginEnv(t, home, []string{"TMPDIR=" + tmp}, args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr: %s", r.code, tt.wantCode, r.stderr)
			}
			msg := strings.TrimSuffix(r.stderr, "\n")
			if !strings.Contains(msg, tt.wantErr) {
				t.Errorf("stderr %q does not mention %q", msg, tt.wantErr)
			}
			if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "error: ") {
				t.Errorf("error is not one `error: ...` line: %q", msg)
			}
			assertNothingLeft(t, out)
			assertEmpty(t, tmp)
		})
	}
}

func assertNothingLeft(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("output %s exists after a failure", out)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*"))
	if len(left) != 0 {
		t.Errorf("work files left behind: %v", left)
	}
}

// TestCreateInterrupted stops a conversion half way with Ctrl-C (SIGINT):
// the plugin must exit non-zero, say so, and remove its work.
func TestCreateInterrupted(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) { testCreateInterrupted(t, sig) })
	}
}

// testCreateInterrupted: SIGINT cleans up at once; after SIGKILL, which
// nothing can catch, the next create in the same place removes what the
// killed one left.
func testCreateInterrupted(t *testing.T, sig syscall.Signal) {
	reg := harness.StartRegistry(t)
	writeSampleImage(t, "docker://"+reg+"/olcne/ock-ostree:1.31", ostreeext.ExportOptions{})
	slow, trickled := slowProxy(t, reg, "127.0.0.1")

	out := filepath.Join(t.TempDir(), "out", "ock.tar")
	cmd := exec.Command(pluginBinary(t), "create", "--local", "--version", "1.31", "--output-file", out,
		"--os-registry", slow+"/olcne/ock-ostree", "--tls-verify=false")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the archive is being written and blob data is flowing
	// into the conversion.
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".ocne-image-work-*", ".ock.tar.tmp-*"))
		if len(m) > 0 && trickled.Load() > 256<<10 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("conversion never started (%d blob bytes sent); stderr: %s", trickled.Load(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(sig)
	err := cmd.Wait()
	if sig == syscall.SIGKILL {
		r := plugin(t, t.TempDir(), "create", "--local", "--version", "1.31", "--output-file", filepath.Join(filepath.Dir(out), "other.tar"),
			"--os-registry", reg+"/olcne/ock-ostree", "--tls-verify=false")
		if r.code != 0 {
			t.Fatalf("create after a killed one: %s", r.stderr)
		}
		os.Remove(filepath.Join(filepath.Dir(out), "other.tar"))
		assertNothingLeft(t, out)
		return
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Errorf("exit: %v, want code 1", err)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say it was interrupted: %q", stderr.String())
	}
	assertNothingLeft(t, out)
}

// slowProxy fronts a registry with a proxy on host (an address of this
// machine) that trickles blob bodies, and returns the proxy's host:port
// and a count of the blob bytes it has sent.
func slowProxy(t *testing.T, reg, host string) (string, *atomic.Int64) {
	t.Helper()
	target, _ := url.Parse("http://" + reg)
	rp := httputil.NewSingleHostReverseProxy(target)
	var sent atomic.Int64
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
			w = &trickle{ResponseWriter: w, sent: &sent}
		}
		rp.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return ln.Addr().String(), &sent
}

type trickle struct {
	http.ResponseWriter
	sent *atomic.Int64
}

func (tr *trickle) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), 32<<10)
		m, err := tr.ResponseWriter.Write(p[:n])
		written += m
		tr.sent.Add(int64(m))
		if err != nil {
			return written, err
		}
		if f, ok := tr.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[n:]
		time.Sleep(20 * time.Millisecond)
	}
	return written, nil
}

func writeEscapingImage(t *testing.T, dest string) {
	t.Helper()
	s := getSample(t)
	b, err := fixture.Encapsulate(context.Background(), s.repo, s.commit, ostreeext.ExportOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.RemoveLayerFiles()
	keep := func(h *tar.Header, d []byte) (*tar.Header, []byte, bool) { return h, d, true }
	evil := tar.Header{Typeflag: tar.TypeReg, Name: "../../../../tmp/ocne-evil", Size: 4, Mode: 0o644}
	if err := fixture.RewriteLayer(&b, 0, t.TempDir(), keep, evil); err != nil {
		t.Fatal(err)
	}
	if err := fixture.WriteImage(context.Background(), dest, b); err != nil {
		t.Fatal(err)
	}
}

// truncateBiggestBlob cuts the largest blob of an OCI layout in half.
func truncateBiggestBlob(t *testing.T, layout string) {
	t.Helper()
	blobs, _ := filepath.Glob(filepath.Join(layout, "blobs", "sha256", "*"))
	var biggest string
	var size int64
	for _, b := range blobs {
		if fi, err := os.Stat(b); err == nil && fi.Size() > size {
			biggest, size = b, fi.Size()
		}
	}
	if err := os.Truncate(biggest, size/2); err != nil {
		t.Fatal(err)
	}
}

// TestCreateWithoutCluster: no kubeconfig, or an API server that never
// answers, must not stop the user: create says so in one line and builds
// on this machine, quickly. A source that is a file here is built here
// without asking any cluster.
func TestCreateWithoutCluster(t *testing.T) {
	reg := harness.StartRegistry(t)
	writeSampleImage(t, "docker://"+reg+"/olcne/ock-ostree:1.31", ostreeext.ExportOptions{})
	layout := t.TempDir()
	writeSampleImage(t, "oci:"+layout+":1.31", ostreeext.ExportOptions{})
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	tests := []struct {
		name    string
		args    []string
		wantMsg string
	}{
		{"no kubeconfig", []string{"--os-registry", reg + "/olcne/ock-ostree", "--tls-verify=false"}, "no kubeconfig"},
		{"server that does not answer", []string{"--os-registry", reg + "/olcne/ock-ostree", "--tls-verify=false",
			"--server", "https://" + silent.Addr().String(), "--insecure-skip-tls-verify"}, "No reachable cluster"},
		{"file source", []string{"--os-registry", "oci:" + layout, "--server", "https://" + silent.Addr().String(), "--insecure-skip-tls-verify"},
			"oci:" + layout + " is a file on this machine: building here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ock.tar")
			start := time.Now()
			r := plugin(t, t.TempDir(), append([]string{"create", "--version", "1.31", "--output-file", out}, tt.args...)...)
			if r.code != 0 || !strings.Contains(r.stderr, tt.wantMsg) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q", r.code, r.stderr)
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("took %s: the probe hangs", took)
			}
			if _, err := os.Stat(out); err != nil {
				t.Errorf("no local build: %v", err)
			}
		})
	}
}
