package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/fixture"
	"github.com/ocne-image/ocne-image/test/harness"
)

// TestCreateServeInstall is the whole documented workflow: a chunked OCK
// image in a registry, `create --local` over plain HTTP, `podman load`,
// the documented `podman run` line, then libostree pulling through the
// published port and Anaconda's ostreesetup steps deploying from it.
func TestCreateServeInstall(t *testing.T) {
	s := getSample(t)
	reg := harness.StartRegistry(t)
	writeSampleImage(t, "docker://"+reg+"/olcne/ock-ostree:1.31", ostreeext.ExportOptions{Layers: 4, Compression: ociarchive.Zstd})

	home := t.TempDir()
	r := plugin(t, home, "create", "--type", "ostree", "--local", "--version", "1.31",
		"--os-registry", reg+"/olcne/ock-ostree", "--tls-verify=false", "-o", "json")
	if r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	if r.stderr != "" {
		t.Errorf("create is not quiet by default: %q", r.stderr)
	}
	var res struct {
		Output, Commit, Version string
		Names                   []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("create -o json: %v\n%s", err, r.stdout)
	}
	wantOut := filepath.Join(home, ".ocne", "images", "ock-1.31-amd64-ostree.tar")
	if res.Output != wantOut || res.Commit != s.commit || res.Version != "1.31" {
		t.Errorf("result %+v, want output %s commit %s", res, wantOut, s.commit)
	}
	leftovers, _ := filepath.Glob(filepath.Join(home, ".ocne", "images", ".*"))
	if len(leftovers) != 0 {
		t.Errorf("work files left next to the output: %v", leftovers)
	}

	// An independent client reads the file both ways it is meant to be read.
	for _, ref := range []string{"oci-archive:" + res.Output + ":localhost/ock-ostree:1.31", "docker-archive:" + res.Output} {
		var info struct{ Labels map[string]string }
		if err := json.Unmarshal([]byte(harness.Run(t, "skopeo", "inspect", ref)), &info); err != nil {
			t.Fatalf("skopeo inspect %s: %v", ref, err)
		}
		if info.Labels["ostree.commit"] != s.commit {
			t.Errorf("skopeo inspect %s: labels %v lack ostree.commit=%s", ref, info.Labels, s.commit)
		}
	}

	// The documented workflow, verbatim but for the port and paths.
	p := harness.NewPodman(t)
	load := p.Run("load", "-i", res.Output)
	for _, name := range []string{"localhost/ock-ostree:latest", "localhost/ock-ostree:1.31"} {
		if !strings.Contains(load, "Loaded image: "+name) {
			t.Errorf("podman load did not name the image %s:\n%s", name, load)
		}
	}
	ks := filepath.Join(t.TempDir(), "ks")
	os.Mkdir(ks, 0o755)
	os.WriteFile(filepath.Join(ks, "ock.ks"), []byte("ostreesetup --nogpg --osname=ock --url=http://host/ostree --ref=ock\n"), 0o644)
	port := harness.FreePort(t)
	id := p.Run("run", "-d", "-p", fmt.Sprintf("%d:80", port), "-v", ks+":/usr/share/nginx/html/ks", "localhost/ock-ostree:latest")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	harness.WaitHTTP(t, base+"/healthz", 20*time.Second)

	t.Run("ks volume served", func(t *testing.T) {
		body := get(t, base+"/ks/ock.ks", http.StatusOK)
		if !strings.Contains(body, "ostreesetup") {
			t.Errorf("ks file: %q", body)
		}
	})
	t.Run("hostile requests refused", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			want         int
		}{
			{http.MethodPut, "/ostree/config", http.StatusMethodNotAllowed},
			{http.MethodDelete, "/ostree/refs/heads/ock", http.StatusMethodNotAllowed},
			{http.MethodGet, "/ostree/../../../etc/passwd", http.StatusBadRequest},
			{http.MethodGet, "/ostree/%2e%2e/%2e%2e/usr/bin/ocne-archive-server", http.StatusBadRequest},
		} {
			req, _ := http.NewRequest(tc.method, base+tc.path, nil)
			req.URL.Opaque = tc.path // keep the dots: the client would clean them
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
			}
		}
	})
	t.Run("ostree pull", func(t *testing.T) {
		repo := filepath.Join(t.TempDir(), "repo")
		harness.Run(t, "ostree", "--repo="+repo, "init", "--mode=bare-user")
		harness.Run(t, "ostree", "--repo="+repo, "remote", "add", "--no-gpg-verify", "ock", base+"/ostree")
		harness.Run(t, "ostree", "--repo="+repo, "pull", "ock", "ock")
		if got := harness.Run(t, "ostree", "--repo="+repo, "rev-parse", "ock:ock"); got != s.commit {
			t.Errorf("pulled commit %s, want %s", got, s.commit)
		}
		harness.Run(t, "ostree", "--repo="+repo, "fsck")
	})
	t.Run("anaconda ostreesetup", func(t *testing.T) {
		sysroot := t.TempDir()
		t.Cleanup(func() {
			if err := fixture.ReleaseDeployments(sysroot); err != nil {
				t.Error(err)
			}
		})
		out, err := fixture.Install(t.Context(), sysroot, base+"/ostree", "ock")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(sysroot, "ostree", "deploy", "ock", "deploy", s.commit+".0", "etc", "hostname")); err != nil {
			t.Errorf("no deployment of %s: %v\n%s", s.commit, err, out)
		}
	})

	// The server writes its access log in batches, up to a second late.
	// The pulls went through the static delta: the summary names it, and
	// the server rebuilt its parts from their recipes.
	usedDelta := regexp.MustCompile(`GET "/ostree/deltas/[^"]+/0" 200`)
	logs := p.Run("logs", id)
	for deadline := time.Now().Add(5 * time.Second); !usedDelta.MatchString(logs) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		logs = p.Run("logs", id)
	}
	for _, want := range []*regexp.Regexp{regexp.MustCompile(`GET "/ostree/summary" 200`), regexp.MustCompile(`GET "/ostree/deltas/[^"]+/superblock" 200`), usedDelta} {
		if !want.MatchString(logs) {
			t.Errorf("access log lacks %s:\n%.3000s", want, logs)
		}
	}
	// SIGTERM must stop the server cleanly, well within podman's grace period.
	start := time.Now()
	p.Run("stop", "--time", "10", id)
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("stop took %s: the server ignored SIGTERM", took)
	}
	if code := p.Run("inspect", "--format", "{{.State.ExitCode}}", id); code != "0" {
		t.Errorf("server exited with %s after SIGTERM", code)
	}
}

func get(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d", url, resp.StatusCode, want)
	}
	return string(b)
}

// TestCreateOtherArch builds the arm64 archive from a manifest list on this
// (amd64) machine: the image must be an arm64 image with an arm64 server.
func TestCreateOtherArch(t *testing.T) {
	s := getSample(t)
	layout := t.TempDir()
	amd := encapsulateSample(t, ostreeext.ExportOptions{Arch: "amd64"})
	arm := encapsulateSample(t, ostreeext.ExportOptions{Arch: "arm64", Layers: 2})
	if err := fixture.WriteImage(t.Context(), "oci:"+layout+":1.31", amd, arm); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "ock.tar")
	r := plugin(t, t.TempDir(), "create", "--local", "--arch", "arm64", "--version", "1.31", "--os-registry", "oci:"+layout, "--output-file", out)
	if r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	var info struct {
		Architecture string
		Labels       map[string]string
	}
	json.Unmarshal([]byte(harness.Run(t, "skopeo", "inspect", "docker-archive:"+out)), &info)
	if info.Architecture != "arm64" || info.Labels["ostree.arch"] != "arm64" || info.Labels["ostree.commit"] != s.commit {
		t.Errorf("image: %+v", info)
	}
	// The server inside must be an aarch64 ELF: e_machine 183 at offset 18.
	unpacked := t.TempDir()
	harness.Run(t, "skopeo", "copy", "-q", "docker-archive:"+out, "dir:"+unpacked)
	var found bool
	blobs, _ := filepath.Glob(filepath.Join(unpacked, "*"))
	for _, b := range blobs {
		data, err := exec.Command("tar", "-xOf", b, "usr/bin/ocne-archive-server").Output()
		if err == nil && len(data) > 20 {
			found = true
			if data[18] != 183 {
				t.Errorf("server binary machine %d, want 183 (aarch64)", data[18])
			}
		}
	}
	if !found {
		t.Error("no server binary in the image")
	}
}

// TestCreateRegistryMirror: --registries-conf applies mirror semantics to
// the local pull too: the name's own registry is never contacted.
func TestCreateRegistryMirror(t *testing.T) {
	s := getSample(t)
	reg := harness.StartRegistry(t)
	writeSampleImage(t, "docker://"+reg+"/mirror/olcne/ock-ostree:1.31", ostreeext.ExportOptions{})
	conf := writeMirrorConf(t, "registry.invalid/olcne", reg+"/mirror/olcne")
	out := filepath.Join(t.TempDir(), "ock.tar")
	r := plugin(t, t.TempDir(), "create", "--local", "--version", "1.31", "--os-registry", "registry.invalid/olcne/ock-ostree",
		"--registries-conf", conf, "--output-file", out, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, s.commit) {
		t.Fatalf("create through the mirror: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}
