package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blang/semver/v4"

	"github.com/ocne-image/ocne-image/shared/kickstart"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/shared/serverimage/layout"
	"github.com/ocne-image/ocne-image/test/fixture"
	"github.com/ocne-image/ocne-image/test/harness"
)

// helper runs bin/podman-ocne with HOME at home and the service at url.
// A run that does not end within a minute is a hang: it is killed and the
// test fails, so the test run itself can never hang on it.
func helper(t *testing.T, home, url string, args ...string) result {
	t.Helper()
	bin := filepath.Join(harness.RepoRoot(t), "bin", "podman-ocne")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run `make build` first (make test does)", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if url != "" {
		args = append([]string{"--url", url}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	// Never the developer's own Podman: only the service a test names.
	cmd.Env = append(os.Environ(), "HOME="+home, "CONTAINER_HOST=", "XDG_RUNTIME_DIR="+home)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("podman-ocne %s hung (killed after a minute); stderr: %s", strings.Join(args, " "), errOut.String())
	}
	r := result{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run podman-ocne: %v", err)
	}
	return r
}

// serverArchive is the archive server image `create --local` makes from
// the sample, made once for all tests.
var serverArchive struct {
	sync.Mutex
	path string
}

func sampleServerArchive(t *testing.T) string {
	t.Helper()
	serverArchive.Lock()
	defer serverArchive.Unlock()
	if serverArchive.path != "" {
		return serverArchive.path
	}
	s := getSample(t)
	layout := filepath.Join(s.dir, "podman-layout")
	writeSampleImage(t, "oci:"+layout+":1.31", ostreeext.ExportOptions{Layers: 2})
	out := filepath.Join(s.dir, "ock-1.31-amd64-ostree.tar")
	r := plugin(t, t.TempDir(), "create", "--local", "--version", "1.31", "--os-registry", "oci:"+layout, "--output-file", out)
	if r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	serverArchive.path = out
	return out
}

// siteJSON is serve's and status's --output json.
type siteJSON struct {
	Site struct {
		Name, Image, Commit, Ref                        string
		OSTreeURL, KickstartURL, IgnitionURL            string
		KernelArgs, KernelURL, InitrdURL, IPXE, IPXEURL string
	}
	Container *struct {
		Name, ID, State string
		Port            int
	}
	Podman *struct{ URL, Version string }
}

func decodeSite(t *testing.T, r result) siteJSON {
	t.Helper()
	var s siteJSON
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("--output json: %v\n%s", err, r.stdout)
	}
	return s
}

// ostreePull has libostree pull ref from url and fsck it, and returns the
// commit it pulled.
func ostreePull(t *testing.T, url, ref string) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	harness.Run(t, "ostree", "--repo="+repo, "init", "--mode=bare-user")
	harness.Run(t, "ostree", "--repo="+repo, "remote", "add", "--no-gpg-verify", "ock", url)
	harness.Run(t, "ostree", "--repo="+repo, "pull", "ock", ref)
	harness.Run(t, "ostree", "--repo="+repo, "fsck")
	return harness.Run(t, "ostree", "--repo="+repo, "rev-parse", "ock:"+ref)
}

// eachPodman runs f as a subtest against a private service of each Podman
// release podman-ocne supports (harness.Podmans): the same bindings drive
// both, and a field or call one of them ignores is only seen this way.
func eachPodman(t *testing.T, f func(t *testing.T, p *harness.Podman, url string)) {
	for _, release := range harness.Podmans {
		t.Run("podman"+release, func(t *testing.T) {
			p := harness.NewPodmanRelease(t, release)
			f(t, p, p.Service())
		})
	}
}

// TestPodmanOcne is the helper's whole life cycle against a real Podman
// service: load, serve, a real ostree pull through the published port, the
// Kickstart over HTTP, status, logs, --replace, stop.
func TestPodmanOcne(t *testing.T) { eachPodman(t, testPodmanOcne) }

func testPodmanOcne(t *testing.T, p *harness.Podman, url string) {
	s := getSample(t)
	archive := sampleServerArchive(t)
	home := t.TempDir()

	r := helper(t, home, url, "load", "--file", archive, "--output", "json")
	if r.code != 0 {
		t.Fatalf("load: exit %d: %s", r.code, r.stderr)
	}
	var loaded struct{ Names []string }
	json.Unmarshal([]byte(r.stdout), &loaded)
	for _, want := range []string{"localhost/ock-ostree:latest", "localhost/ock-ostree:1.31"} {
		if !slices.Contains(loaded.Names, want) {
			t.Errorf("load names %v lack %s", loaded.Names, want)
		}
	}
	if r.stderr != "" {
		t.Errorf("load is not quiet without a terminal: %q", r.stderr)
	}

	ks := filepath.Join(t.TempDir(), "ks")
	os.Mkdir(ks, 0o755)
	ksText := "# test kickstart\nostreesetup --nogpg --osname=ock --url=http://h/ostree --ref=ock\nreboot\n"
	os.WriteFile(filepath.Join(ks, "ock.ks"), []byte(ksText), 0o644)
	port := harness.FreePort(t)
	r = helper(t, home, url, "serve", "--name", "ock-e2e", "--port", strconv.Itoa(port),
		"--advertise-address", "127.0.0.1", "--kickstart-dir", ks, "--output", "json")
	if r.code != 0 {
		t.Fatalf("serve: exit %d: %s", r.code, r.stderr)
	}
	site := decodeSite(t, r).Site
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if site.OSTreeURL != base+"/ostree" || site.KickstartURL != base+"/ks/ock.ks" ||
		site.KernelArgs != "inst.ks="+base+"/ks/ock.ks" || site.Commit != s.commit || site.Ref != "ock" {
		t.Errorf("serve printed %+v", site)
	}

	t.Run("ostree pull and fsck", func(t *testing.T) {
		if got := ostreePull(t, site.OSTreeURL, site.Ref); got != s.commit {
			t.Errorf("pulled %s, want %s", got, s.commit)
		}
	})
	t.Run("kickstart over HTTP", func(t *testing.T) {
		got := strings.Split(get(t, site.KickstartURL, http.StatusOK), "\n")
		want := strings.Split(ksText, "\n")
		if !slices.Equal(got, want) {
			t.Errorf("kickstart lines %q, want %q", got, want)
		}
	})
	t.Run("ignition directory is private", func(t *testing.T) {
		dir := filepath.Join(home, ".ocne", "serve", "ock-e2e", "ignition")
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v, want mode 0700", dir, fi, err)
		}
		if site.IgnitionURL != base+"/ignition/ock.ign" {
			t.Errorf("Ignition URL %s", site.IgnitionURL)
		}
		os.WriteFile(filepath.Join(dir, "ock.ign"), []byte(`{"ignition":{"version":"3.4.0"}}`), 0o600)
		if body := get(t, site.IgnitionURL, http.StatusOK); !strings.Contains(body, "3.4.0") {
			t.Errorf("ock.ign: %q", body)
		}
	})
	t.Run("status", func(t *testing.T) {
		r := helper(t, home, url, "status", "--name", "ock-e2e", "-o", "json")
		st := decodeSite(t, r)
		if r.code != 0 || st.Container == nil || st.Container.State != "running" || st.Container.Port != port || st.Site.OSTreeURL != site.OSTreeURL {
			t.Errorf("status: exit %d %+v %s", r.code, st, r.stderr)
		}
		// The service's release, as `podman version` of the same binary says.
		if st.Podman == nil || st.Podman.Version != p.Version || st.Podman.URL != url {
			t.Errorf("status podman: %+v, want version %s at %s", st.Podman, p.Version, url)
		}
		r = helper(t, home, url, "status", "--name", "ock-e2e")
		if !strings.Contains(r.stdout, "running") || !strings.Contains(r.stdout, site.KernelArgs) ||
			!strings.Contains(r.stdout, "Podman:         "+p.Version+" ("+url+")\n") {
			t.Errorf("status text:\n%s", r.stdout)
		}
	})
	t.Run("--name completion", func(t *testing.T) {
		r := helper(t, home, url, "__complete", "stop", "--name", "")
		if lines := strings.Split(r.stdout, "\n"); !slices.Contains(lines, "ock-e2e") {
			t.Errorf("completion of --name:\n%s", r.stdout)
		}
	})
	t.Run("logs", func(t *testing.T) {
		// The server writes its access log in batches, up to a second late.
		var r result
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			r = helper(t, home, url, "logs", "--name", "ock-e2e")
			logged := strings.Contains(r.stdout, `GET "/ostree/config" 200`) && strings.Contains(r.stdout, `"/ks/ock.ks"`)
			if r.code != 0 || logged || time.Now().After(deadline) {
				break
			}
		}
		if r.code != 0 || !strings.Contains(r.stdout, `GET "/ostree/config" 200`) || !strings.Contains(r.stdout, `"/ks/ock.ks"`) {
			t.Errorf("logs: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("kickstart auto", func(t *testing.T) {
		port := harness.FreePort(t)
		r := helper(t, home, url, "serve", "--name", "ock-e2e-auto", "--port", strconv.Itoa(port),
			"--advertise-address", "127.0.0.1", "--kickstart", "auto", "--ignition-file", "worker.ign")
		if r.code != 0 {
			t.Fatalf("serve --kickstart auto: exit %d: %s", r.code, r.stderr)
		}
		defer helper(t, home, url, "stop", "--name", "ock-e2e-auto")
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		got := strings.Split(get(t, base+"/ks/ock.ks", http.StatusOK), "\n")
		for _, want := range []string{
			"ostreesetup --nogpg --osname ock --url " + base + "/ostree --ref ock",
			`bootloader --append "rw ip=dhcp rd.neednet=1 ignition.platform.id=metal ignition.config.url=` + base + `/ignition/worker.ign ignition.firstboot=1"`,
			"services --enabled=ostree-remount",
			"reboot",
		} {
			if !slices.Contains(got, want) {
				t.Errorf("served Kickstart lacks the line %q:\n%s", want, strings.Join(got, "\n"))
			}
		}
		// Every line is the renderer's, none added or lost on the way.
		want, err := kickstart.Render(kickstart.Config{OSTreeURL: base + "/ostree", IgnitionURL: base + "/ignition/worker.ign"})
		if err != nil {
			t.Fatal(err)
		}
		if w := strings.Split(string(want), "\n"); !slices.Equal(got, w) {
			t.Errorf("served Kickstart:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
		}
		if fi, err := os.Stat(filepath.Join(home, ".ocne", "serve", "ock-e2e-auto", "ks", "ock.ks")); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("written Kickstart: %v %v", fi, err)
		}
		if !strings.Contains(r.stdout, "inst.ks="+base+"/ks/ock.ks") || r.stderr != "" {
			t.Errorf("serve output:\n%s\nstderr: %s", r.stdout, r.stderr)
		}
	})
	t.Run("boot ISO", func(t *testing.T) {
		files := fixture.BootISOFiles()
		iso, err := fixture.BootISO(context.Background(), t.TempDir(), files, "-R", "-J")
		if err != nil {
			t.Fatal(err)
		}
		port := harness.FreePort(t)
		r := helper(t, home, url, "serve", "--name", "ock-e2e-iso", "--port", strconv.Itoa(port),
			"--advertise-address", "127.0.0.1", "--kickstart", "auto", "--iso", iso, "-o", "json")
		if r.code != 0 {
			t.Fatalf("serve --iso: exit %d: %s", r.code, r.stderr)
		}
		defer helper(t, home, url, "stop", "--name", "ock-e2e-iso")
		site := decodeSite(t, r).Site
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		for url, want := range map[string]string{
			site.KernelURL:                    fixture.ISOKernel,
			site.InitrdURL:                    fixture.ISOInitrd,
			base + "/boot/images/install.img": fixture.ISOStage2,
		} {
			if got := get(t, url, http.StatusOK); got != string(files[want]) {
				t.Errorf("%s: %d bytes, not the ISO's %s", url, len(got), want)
			}
		}
		wantArgs := "inst.ks=" + base + "/ks/ock.ks inst.stage2=" + base + "/boot ip=dhcp"
		if site.KernelArgs != wantArgs {
			t.Errorf("kernel args %q, want %q", site.KernelArgs, wantArgs)
		}
		ipxe := get(t, site.IPXEURL, http.StatusOK)
		if ipxe != site.IPXE || !strings.HasPrefix(ipxe, "#!ipxe\n") {
			t.Errorf("served iPXE script:\n%s\nprinted:\n%s", ipxe, site.IPXE)
		}
		for _, line := range []string{
			"kernel " + site.KernelURL + " initrd=initrd.img " + wantArgs,
			"initrd " + site.InitrdURL,
			"boot",
		} {
			if !slices.Contains(strings.Split(ipxe, "\n"), line) {
				t.Errorf("iPXE script lacks %q:\n%s", line, ipxe)
			}
		}
	})
	t.Run("same name refused without --replace", func(t *testing.T) {
		r := helper(t, home, url, "serve", "--name", "ock-e2e", "--port", strconv.Itoa(harness.FreePort(t)), "--advertise-address", "127.0.0.1")
		if r.code != 1 || !strings.Contains(r.stderr, "already exists") || !strings.Contains(r.stderr, "--replace") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		get(t, base+"/ostree/config", http.StatusOK) // the old server still runs
	})
	t.Run("replace", func(t *testing.T) {
		port2 := harness.FreePort(t)
		r := helper(t, home, url, "serve", "--name", "ock-e2e", "--replace", "--port", strconv.Itoa(port2), "--advertise-address", "127.0.0.1", "--kickstart-dir", ks)
		if r.code != 0 {
			t.Fatalf("serve --replace: exit %d: %s", r.code, r.stderr)
		}
		if _, err := http.Get(base + "/ostree/config"); err == nil {
			t.Errorf("the replaced server still answers on %d", port)
		}
		if got := ostreePull(t, fmt.Sprintf("http://127.0.0.1:%d/ostree", port2), "ock"); got != s.commit {
			t.Errorf("pulled %s from the replacement, want %s", got, s.commit)
		}
		if names := p.Containers(); !slices.Equal(names, []string{"ock-e2e"}) {
			t.Errorf("containers after --replace: %v", names)
		}
	})
	t.Run("stop", func(t *testing.T) {
		r := helper(t, home, url, "stop", "--name", "ock-e2e")
		if r.code != 0 {
			t.Fatalf("stop: exit %d: %s", r.code, r.stderr)
		}
		if names := p.Containers(); len(names) != 0 {
			t.Errorf("containers left after stop: %v", names)
		}
		r = helper(t, home, url, "status", "--name", "ock-e2e")
		if r.code != 1 || !strings.Contains(r.stderr, "no such container") {
			t.Errorf("status after stop: exit %d: %s", r.code, r.stderr)
		}
	})
}

// TestPodmanOcneLoadPath: load hands a Podman that can read it (5.7 and
// later, on a unix socket) the archive's path, and streams the file to an
// older one, or to one that does not see the file (a service in a VM or a
// container); the image is stored under its names either way.
func TestPodmanOcneLoadPath(t *testing.T) {
	archive := sampleServerArchive(t)
	localSince := semver.MustParse("5.7.0")
	for _, release := range harness.Podmans {
		for _, hidden := range []bool{false, true} {
			name := "podman" + release
			if hidden {
				name += " file hidden from the service"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				file := filepath.Join(dir, "ock.tar")
				harness.Run(t, "cp", archive, file)
				p := harness.NewPodmanRelease(t, release)
				var url string
				if hidden {
					url = p.ServiceHiding(dir)
				} else {
					url = p.Service()
				}
				r := helper(t, t.TempDir(), url, "load", "--file", file)
				if r.code != 0 || !slices.Contains(strings.Fields(r.stdout), "localhost/ock-ostree:1.31") {
					t.Fatalf("load: exit %d: %s%s", r.code, r.stdout, r.stderr)
				}
				if images := p.Run("images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(images, "localhost/ock-ostree:1.31") {
					t.Errorf("the service holds %q", images)
				}
				local := semver.MustParse(p.Version).GTE(localSince)
				var want []string
				if local {
					want = append(want, "POST /libpod/local/images/load "+map[bool]string{false: "200", true: "404"}[hidden])
				}
				if !local || hidden {
					want = append(want, "POST /libpod/images/load 200")
				}
				if got := loadRequests(p.Requests()); !slices.Equal(got, want) {
					t.Errorf("load requests %q, want %q", got, want)
				}
			})
		}
	}
}

// loadRequests are the image load requests among reqs, without the API
// version prefix the bindings put in front.
func loadRequests(reqs []string) []string {
	var loads []string
	for _, r := range reqs {
		method, rest, _ := strings.Cut(r, " ")
		if _, path, ok := strings.Cut(strings.TrimPrefix(rest, "/"), "/"); ok && strings.Contains(path, "images/load") {
			loads = append(loads, method+" /"+path)
		}
	}
	return loads
}

// TestPodmanOcneBadInput: each bad input is a one-line error with the
// right exit code, and leaves no container and no created directory.
func TestPodmanOcneBadInput(t *testing.T) { eachPodman(t, testPodmanOcneBadInput) }

func testPodmanOcneBadInput(t *testing.T, p *harness.Podman, url string) {
	archive := sampleServerArchive(t)
	if r := helper(t, t.TempDir(), url, "load", "--file", archive); r.code != 0 {
		t.Fatalf("load: exit %d: %s", r.code, r.stderr)
	}
	// A container podman-ocne did not start, under the name serve uses.
	p.Run("create", "--name", "foreign", "localhost/ock-ostree:latest")

	dir := t.TempDir()
	notTar := filepath.Join(dir, "notes.txt")
	os.WriteFile(notTar, []byte("not an image\n"), 0o644)
	plainTar := filepath.Join(dir, "plain.tar")
	harness.Run(t, "tar", "-cf", plainTar, "-C", dir, "notes.txt")
	noPXE, err := fixture.BootISO(context.Background(), t.TempDir(), map[string][]byte{"EFI/BOOT/grub.cfg": []byte("set default=0\n")}, "-R", "-J")
	if err != nil {
		t.Fatal(err)
	}
	_, twoImages := twoImageFiles(t)
	missingSock := "unix://" + filepath.Join(dir, "none.sock")
	silentSock := silentSocket(t)
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	free := func() string { return strconv.Itoa(harness.FreePort(t)) }

	for _, tc := range []struct {
		name     string
		url      string // default: the test service
		args     []string
		wantCode int
		wantErr  []string
	}{
		{name: "socket missing", url: missingSock, args: []string{"status"}, wantCode: 1,
			wantErr: []string{"no Podman service", "systemctl --user enable --now podman.socket", "podman system service"}},
		{name: "socket missing, serve", url: missingSock, args: []string{"serve", "--port", free(), "--advertise-address", "127.0.0.1"}, wantCode: 1,
			wantErr: []string{"no Podman service"}},
		{name: "socket that never answers", url: silentSock, args: []string{"load", "--file", archive, "--connect-timeout", "2s"}, wantCode: 1,
			wantErr: []string{"did not answer within 2s"}},
		{name: "not a URL", url: "podman.sock", args: []string{"status"}, wantCode: 2, wantErr: []string{"invalid Podman URL"}},
		{name: "port already in use", args: []string{"serve", "--port", busyPort, "--advertise-address", "127.0.0.1"}, wantCode: 1,
			wantErr: []string{"port " + busyPort + " is already in use"}},
		{name: "image not loaded", args: []string{"serve", "--image", "localhost/ock-ostree:9.99", "--port", free(), "--advertise-address", "127.0.0.1"}, wantCode: 1,
			wantErr: []string{"localhost/ock-ostree:9.99 is not loaded", "podman-ocne load"}},
		{name: "file that is not an image archive", args: []string{"load", "--file", notTar}, wantCode: 1,
			wantErr: []string{"is not an image archive"}},
		{name: "tar that is not an image archive", args: []string{"load", "--file", plainTar}, wantCode: 1,
			wantErr: []string{"is not an image archive"}},
		{name: "archive of several images", args: []string{"load", "--file", twoImages}, wantCode: 1,
			wantErr: []string{"holds 2 images (1.31, 1.32)", "load takes an archive of one image"}},
		{name: "missing file", args: []string{"load", "--file", filepath.Join(dir, "nope.tar")}, wantCode: 1,
			wantErr: []string{"no such file"}},
		{name: "foreign container not replaced", args: []string{"serve", "--name", "foreign", "--replace", "--port", free(), "--advertise-address", "127.0.0.1"}, wantCode: 1,
			wantErr: []string{"was not started by podman-ocne"}},
		{name: "foreign container not stopped", args: []string{"stop", "--name", "foreign"}, wantCode: 1,
			wantErr: []string{"was not started by podman-ocne"}},
		{name: "stop what does not run", args: []string{"stop", "--name", "nothing"}, wantCode: 1,
			wantErr: []string{"no such container", "nothing to stop"}},
		{name: "Kickstart value with a newline", args: []string{"serve", "--kickstart", "auto", "--ignition-file", "a\nb.ign", "--port", free(), "--advertise-address", "127.0.0.1"}, wantCode: 2,
			wantErr: []string{"cannot write the Kickstart", "line break"}},
		{name: "Kickstart value with a quote", args: []string{"serve", "--kickstart", "auto", "--ignition-file", `a"b.ign`, "--port", free(), "--advertise-address", "127.0.0.1"}, wantCode: 2,
			wantErr: []string{"cannot write the Kickstart", `'"'`}},
		{name: "advertise address with a quote", args: []string{"serve", "--kickstart", "auto", "--advertise-address", `10.0.0.1"`}, wantCode: 2,
			wantErr: []string{"invalid --advertise-address"}},
		{name: "unknown --kickstart", args: []string{"serve", "--kickstart", "manual"}, wantCode: 2, wantErr: []string{"invalid --kickstart"}},
		{name: "ISO without pxeboot files", args: []string{"serve", "--iso", noPXE, "--port", free(), "--advertise-address", "127.0.0.1"}, wantCode: 1,
			wantErr: []string{"has no images/pxeboot/vmlinuz", "boot ISO"}},
		{name: "file that is not an ISO", args: []string{"serve", "--iso", notTar, "--port", free(), "--advertise-address", "127.0.0.1"}, wantCode: 1,
			wantErr: []string{"is not an ISO-9660 image"}},
		{name: "no --file", args: []string{"load"}, wantCode: 2, wantErr: []string{"--file is required"}},
		{name: "bad port", args: []string{"serve", "--port", "70000"}, wantCode: 2, wantErr: []string{"invalid --port"}},
		{name: "bad restart policy", args: []string{"serve", "--restart", "sometimes"}, wantCode: 2, wantErr: []string{"invalid --restart"}},
		{name: "bad output", args: []string{"status", "--output", "yaml"}, wantCode: 2, wantErr: []string{"invalid --output"}},
		{name: "bad advertise address", args: []string{"serve", "--advertise-address", "a b"}, wantCode: 2, wantErr: []string{"invalid --advertise-address"}},
		{name: "unknown flag", args: []string{"serve", "--nope"}, wantCode: 2, wantErr: []string{"unknown flag"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			u := tc.url
			if u == "" {
				u = url
			}
			r := helper(t, home, u, tc.args...)
			if r.code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, tc.wantCode, r.stderr)
			}
			if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 {
				t.Errorf("error is not one line:\n%s", r.stderr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			if names := p.Containers(); !slices.Equal(names, []string{"foreign"}) {
				t.Errorf("containers left: %v", names)
			}
			if _, err := os.Stat(filepath.Join(home, ".ocne")); err == nil {
				t.Errorf("%s/.ocne left behind", home)
			}
		})
	}
}

// silentSocket is a unix socket that accepts connections and never
// answers: a wedged service.
func silentSocket(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sil-")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		os.RemoveAll(dir)
	})
	return "unix://" + filepath.Join(dir, "s.sock")
}

// TestPodmanOcneServerFails: a server that never answers is removed again,
// whether serve gives up, sees it exit, or is interrupted with Ctrl-C.
func TestPodmanOcneServerFails(t *testing.T) { eachPodman(t, testPodmanOcneServerFails) }

func testPodmanOcneServerFails(t *testing.T, p *harness.Podman, url string) {
	archive := sampleServerArchive(t)
	if r := helper(t, t.TempDir(), url, "load", "--file", archive); r.code != 0 {
		t.Fatalf("load: exit %d: %s", r.code, r.stderr)
	}
	// The archive server image, labels and all, with a web root that does
	// not exist (the server exits at once), or listening on another port
	// than the published one (it runs, but never answers). The ENTRYPOINT
	// again: Podman 5's commit drops it when CMD changes (4.3 keeps it).
	p.Run("create", "--name", "base", "localhost/ock-ostree:latest")
	entrypoint := `ENTRYPOINT ["` + layout.ServerPath + `"]`
	p.Run("commit", "--change", entrypoint, "--change", `CMD ["--root", "/nope", "--listen", ":80"]`, "base", "localhost/broken:1")
	p.Run("commit", "--change", entrypoint, "--change", `CMD ["--root", "/usr/share/nginx/html", "--listen", ":81"]`, "base", "localhost/deaf:1")
	p.Run("rm", "base")
	serve := func(image string, extra ...string) []string {
		return append([]string{"serve", "--image", image, "--port", strconv.Itoa(harness.FreePort(t)), "--advertise-address", "127.0.0.1"}, extra...)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "server exits", args: serve("localhost/broken:1", "--restart", "no"), wantErr: "the archive server container exited: archive-server: root /nope: no such directory"},
		{name: "server never answers", args: serve("localhost/deaf:1", "--timeout", "3s"), wantErr: "did not serve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			r := helper(t, home, url, tc.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, tc.wantErr)
			}
			if names := p.Containers(); len(names) != 0 {
				t.Errorf("containers left: %v", names)
			}
			if _, err := os.Stat(filepath.Join(home, ".ocne")); err == nil {
				t.Errorf("%s/.ocne left behind", home)
			}
		})
	}
	t.Run("Ctrl-C", func(t *testing.T) {
		home := t.TempDir()
		cmd := exec.Command(filepath.Join(harness.RepoRoot(t), "bin", "podman-ocne"), append([]string{"--url", url}, serve("localhost/deaf:1")...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "CONTAINER_HOST=")
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Interrupt once the container exists: serve is then waiting for it.
		for deadline := time.Now().Add(30 * time.Second); len(p.Containers()) == 0; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("serve created no container: %s", errOut.String())
			}
		}
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			t.Fatal("serve did not stop after Ctrl-C")
		}
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(errOut.String(), "interrupted") {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
		if names := p.Containers(); len(names) != 0 {
			t.Errorf("containers left after Ctrl-C: %v", names)
		}
	})
}
