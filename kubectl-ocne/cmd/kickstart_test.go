package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/test/fixture"
)

// TestKickstartDefaults checks the precedence of flags, the cluster config,
// ~/.ocne/ocne-image.yaml and the built-in defaults.
func TestKickstartDefaults(t *testing.T) {
	tests := []struct {
		name                    string
		own, cluster            string
		args                    []string
		wantURL, wantTZ, wantSE string
	}{
		{name: "built-in", args: []string{"--ostree-url", "http://f/ostree"}, wantURL: "http://f/ostree"},
		{
			name:    "ocne-image.yaml",
			own:     "kickstart:\n  ostreeUrl: http://d/ostree\n  timezone: Europe/Paris\n  selinux: permissive\n",
			wantURL: "http://d/ostree", wantTZ: "Europe/Paris", wantSE: "permissive",
		},
		{
			name:    "cluster config beats ocne-image.yaml",
			own:     "kickstart:\n  ostreeUrl: http://d/ostree\n  timezone: Europe/Paris\n  selinux: permissive\n",
			cluster: "provider: byo\nkickstart:\n  timezone: Asia/Tokyo\n",
			wantURL: "http://d/ostree", wantTZ: "Asia/Tokyo", wantSE: "permissive",
		},
		{
			name:    "flags beat both",
			own:     "kickstart:\n  ostreeUrl: http://d/ostree\n  timezone: Europe/Paris\n",
			cluster: "kickstart:\n  timezone: Asia/Tokyo\n  selinux: disabled\n",
			args:    []string{"--timezone", "UTC", "--ostree-url", "http://f/ostree", "--selinux", "enforcing"},
			wantURL: "http://f/ostree", wantTZ: "UTC", wantSE: "enforcing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, args := configHome(t, "ocne-image.yaml", tt.own, tt.cluster, tt.args)
			o := &KickstartOptions{IOStreams: genericiooptions.NewTestIOStreamsDiscard(), defaultsDir: home}
			c := newCmdKickstart(o)
			if err := c.ParseFlags(args); err != nil {
				t.Fatal(err)
			}
			if err := o.Complete(c); err != nil {
				t.Fatal(err)
			}
			if o.Config.OSTreeURL != tt.wantURL || o.Config.Timezone != tt.wantTZ || o.Config.SELinux != tt.wantSE {
				t.Errorf("url %q timezone %q selinux %q, want %q %q %q", o.Config.OSTreeURL, o.Config.Timezone,
					o.Config.SELinux, tt.wantURL, tt.wantTZ, tt.wantSE)
			}
		})
	}
}

// runPlugin runs the root command as kubectl would, with HOME in a temp dir.
func runPlugin(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runPluginIn(t, t.TempDir(), nil, args...)
}

// runPluginIn runs the root command with HOME at home and the environment
// variables env; OCNE_DEFAULTS and OCNE_IMAGE_CONFIG are unset unless env
// sets them.
func runPluginIn(t *testing.T, home string, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("HOME", home)
	t.Setenv("OCNE_DEFAULTS", "")
	t.Setenv("OCNE_IMAGE_CONFIG", "")
	for k, v := range env {
		t.Setenv(k, v)
	}
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewCmdOcneImage(streams)
	root.SetArgs(args)
	code = Execute(context.Background(), root, streams)
	return code, out.String(), errOut.String()
}

var ksArgs = []string{"kickstart", "--ostree-url", "http://10.0.0.5:8080/ostree", "--ignition-url", "http://10.0.0.5:8080/ks/w.ign"}

func TestKickstartCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "w.ks")

	code, stdout, stderr := runPlugin(t, ksArgs...)
	if code != 0 || !strings.Contains(stdout, "\nostreesetup --nogpg --osname ock --url http://10.0.0.5:8080/ostree --ref ock\n") || stderr != "" {
		t.Errorf("to stdout: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}

	args := append(append([]string{}, ksArgs...), "--output-file", out, "--boot-proto", "static", "--ip", "10.0.0.20",
		"--netmask", "255.255.255.0", "--gateway", "10.0.0.1", "--nameserver", "10.0.0.2,10.0.0.3", "--hostname", "w1",
		"--network-device", "eth0", "--kernel-arg", "console=ttyS0", "--finish", "poweroff")
	code, stdout, stderr = runPlugin(t, args...)
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("to a file: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\npoweroff\n",
		"\nnetwork --bootproto=static --device=eth0 --ip=10.0.0.20 --netmask=255.255.255.0 --gateway=10.0.0.1 --nameserver=10.0.0.2,10.0.0.3 --hostname=w1 --activate\n",
		`bootloader --append "rw ip=10.0.0.20::10.0.0.1:255.255.255.0:w1:eth0:none nameserver=10.0.0.2 nameserver=10.0.0.3 rd.neednet=1 ignition.platform.id=metal ignition.config.url=http://10.0.0.5:8080/ks/w.ign ignition.firstboot=1 console=ttyS0"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q:\n%s", out, want, b)
		}
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 so the web server can read it", fi.Mode().Perm())
	}
}

func TestKickstartISO(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds its ISO with xorriso")
	}
	if _, err := exec.LookPath("xorriso"); err != nil {
		t.Skip("xorriso not installed (test/scripts/deps.sh installs it)")
	}
	dir := t.TempDir()
	files := fixture.BootISOFiles()
	iso, err := fixture.BootISO(context.Background(), dir, files, "-R", "-J")
	if err != nil {
		t.Fatal(err)
	}
	bootDir, out := filepath.Join(dir, "boot"), filepath.Join(dir, "ks", "w.ks")
	os.MkdirAll(filepath.Dir(out), 0o755)
	args := append(append([]string{}, ksArgs...), "--output-file", out, "--iso", iso, "--boot-dir", bootDir,
		"--boot-url", "http://10.0.0.5:8080/boot", "--kickstart-url", "http://10.0.0.5:8080/ks/w.ks", "-o", "json")
	code, stdout, stderr := runPlugin(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum bootSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	want := bootSummary{
		Kickstart: out, Kernel: filepath.Join(bootDir, fixture.ISOKernel), Initrd: filepath.Join(bootDir, fixture.ISOInitrd),
		Stage2: filepath.Join(bootDir, fixture.ISOStage2), IPXE: filepath.Join(bootDir, "boot.ipxe"),
		KernelArgs: []string{"inst.ks=http://10.0.0.5:8080/ks/w.ks", "inst.stage2=http://10.0.0.5:8080/boot", "ip=dhcp"},
	}
	if got, _ := json.Marshal(sum); !bytes.Equal(got, must(json.Marshal(want))) {
		t.Errorf("summary\n got %s\nwant %s", got, must(json.Marshal(want)))
	}
	for path, p := range map[string]string{sum.Kernel: fixture.ISOKernel, sum.Initrd: fixture.ISOInitrd, sum.Stage2: fixture.ISOStage2} {
		if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, files[p]) {
			t.Errorf("%s differs from the ISO's %s (%v)", path, p, err)
		}
	}
	script, _ := os.ReadFile(sum.IPXE)
	if !strings.Contains(string(script), "\nkernel http://10.0.0.5:8080/boot/images/pxeboot/vmlinuz initrd=initrd.img inst.ks=http://10.0.0.5:8080/ks/w.ks inst.stage2=http://10.0.0.5:8080/boot ip=dhcp\n") {
		t.Errorf("iPXE script:\n%s", script)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestKickstartBadInput: every bad value is one line on stderr, exit 2 for
// bad flags and 1 for a bad ISO, and nothing is written or replaced.
func TestKickstartBadInput(t *testing.T) {
	dir := t.TempDir()
	notISO := filepath.Join(dir, "disk.img")
	os.WriteFile(notISO, bytes.Repeat([]byte("x"), 64<<10), 0o644)
	noPXE := ""
	// The ISO without PXE files needs xorriso: not in the unit tier.
	if _, err := exec.LookPath("xorriso"); err == nil && !testing.Short() {
		files := fixture.BootISOFiles()
		delete(files, fixture.ISOKernel)
		delete(files, fixture.ISOInitrd)
		d := filepath.Join(dir, "nopxe")
		os.MkdirAll(d, 0o755)
		var err error
		if noPXE, err = fixture.BootISO(context.Background(), d, files, "-R", "-J"); err != nil {
			t.Fatal(err)
		}
	}
	iso := func(path string) []string {
		return []string{"--iso", path, "--boot-url", "http://10.0.0.5:8080/boot", "--kickstart-url", "http://10.0.0.5:8080/ks/w.ks"}
	}
	tests := []struct {
		name     string
		args     []string
		replace  map[string]string // flag -> value in ksArgs
		stdout   bool              // no -o
		wantCode int
		want     string
	}{
		{name: "newline in Ignition URL", replace: map[string]string{"--ignition-url": "http://x/a.ign\n%post\nreboot\n%end"},
			wantCode: 2, want: `invalid --ignition-url "http://x/a.ign\n%post\nreboot\n%end": contains a line break`},
		{name: "quote in OSTree URL", replace: map[string]string{"--ostree-url": `http://x/"ostree`}, wantCode: 2, want: `invalid --ostree-url`},
		{name: "space in OSTree URL", replace: map[string]string{"--ostree-url": "http://x/my ostree"}, wantCode: 2, want: "contains a space"},
		{name: "ftp OSTree URL", replace: map[string]string{"--ostree-url": "ftp://x/ostree"}, wantCode: 2, want: "scheme http, https, file"},
		{name: "no Ignition URL", replace: map[string]string{"--ignition-url": ""}, wantCode: 2, want: "--ostree-url and --ignition-url are required"},
		{name: "kernel arg injection", args: []string{"--kernel-arg", `a" --location=none`}, wantCode: 2, want: "invalid --kernel-arg"},
		{name: "timezone option", args: []string{"--timezone", "--isUtc"}, wantCode: 2, want: "invalid --timezone"},
		{name: "bad selinux", args: []string{"--selinux", "off"}, wantCode: 2, want: "must be one of enforcing, permissive, disabled"},
		{name: "static without address", args: []string{"--boot-proto", "static", "--network-device", "eth0"}, wantCode: 2, want: "invalid --ip"},
		{name: "static without device", args: []string{"--boot-proto", "static", "--ip", "10.0.0.9", "--netmask", "255.255.255.0"}, wantCode: 2, want: `invalid --network-device "": must be set for a static address`},
		{name: "json to stdout", args: []string{"-o", "json"}, stdout: true, wantCode: 2, want: "-o json needs --output-file"},
		{name: "iso without boot dir", args: iso(notISO), wantCode: 2, want: "--iso needs --boot-dir"},
		{name: "boot dir without iso", args: []string{"--boot-dir", dir}, wantCode: 2, want: "go with --iso"},
		{name: "iPXE expansion in boot URL", args: append(iso(notISO)[:2], "--boot-dir", "B", "--boot-url", "http://x/${mac}", "--kickstart-url", "http://x/k"),
			wantCode: 2, want: `invalid --boot-url "http://x/${mac}"`},
		{name: "unknown flag", args: []string{"--nope"}, wantCode: 2, want: "unknown flag: --nope"},
		{name: "not an ISO", args: append(iso(notISO), "--boot-dir", "B"), wantCode: 1, want: "disk.img is not an ISO-9660 image"},
		{name: "missing ISO", args: append(iso(filepath.Join(dir, "gone.iso")), "--boot-dir", "B"), wantCode: 1, want: "gone.iso: no such file"},
		{name: "ISO without pxeboot", args: append(iso(noPXE), "--boot-dir", "B"), wantCode: 1, want: "has no images/pxeboot/vmlinuz or images/pxeboot/initrd.img"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.name, "pxeboot") && noPXE == "" {
				t.Skip("xorriso not installed")
			}
			work := t.TempDir()
			out := filepath.Join(work, "w.ks")
			os.WriteFile(out, []byte("old\n"), 0o644)
			args := append([]string{}, ksArgs...)
			for i := range args {
				if v, ok := tt.replace[args[i]]; ok {
					args[i+1] = v
				}
			}
			for i, a := range tt.args {
				if a == "B" {
					tt.args[i] = filepath.Join(work, "boot")
				}
			}
			if !tt.stdout {
				args = append(args, "--output-file", out)
			}
			args = append(args, tt.args...)
			code, stdout, stderr := runPlugin(t, args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.wantCode, tt.want)
			}
			if strings.Count(stderr, "\n") != 1 || stdout != "" {
				t.Errorf("want one line on stderr and nothing on stdout, got %q and %q", stderr, stdout)
			}
			if b, _ := os.ReadFile(out); string(b) != "old\n" {
				t.Errorf("%s was replaced: %q", out, b)
			}
			if entries, _ := os.ReadDir(work); len(entries) != 1 {
				t.Errorf("left behind in %s: %v", work, entries)
			}
		})
	}
}
