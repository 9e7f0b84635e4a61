package bootmedia

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/shared/kickstart"
	"github.com/ocne-image/ocne-image/test/fixture"
)

// buildISO builds an ISO with the real xorriso.
func buildISO(t *testing.T, files map[string][]byte, mkisofsArgs ...string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds its ISO with xorriso")
	}
	if _, err := exec.LookPath("xorriso"); err != nil {
		t.Skip("xorriso not installed (test/scripts/deps.sh installs it)")
	}
	iso, err := fixture.BootISO(context.Background(), t.TempDir(), files, mkisofsArgs...)
	if err != nil {
		t.Fatal(err)
	}
	return iso
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestExtractPXE(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"Rock Ridge and Joliet, as Oracle's ISOs", []string{"-R", "-J"}},
		{"Rock Ridge only", []string{"-R"}},
		{"plain ISO-9660 names", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := fixture.BootISOFiles()
			iso := buildISO(t, files, tt.args...)
			dest := filepath.Join(t.TempDir(), "boot")
			got, err := ExtractPXE(context.Background(), iso, dest)
			if err != nil {
				t.Fatal(err)
			}
			want := PXEFiles{
				Kernel: filepath.Join(dest, KernelPath),
				Initrd: filepath.Join(dest, InitrdPath),
				Stage2: filepath.Join(dest, Stage2Path),
			}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			for p, path := range map[string]string{KernelPath: got.Kernel, InitrdPath: got.Initrd, Stage2Path: got.Stage2} {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, files[p]) {
					t.Errorf("%s: %d bytes differ from the %d on the ISO", p, len(b), len(files[p]))
				}
			}
			if left := leftovers(t, dest); len(left) != 3 {
				t.Errorf("files in the boot dir: %v, want only the three extracted", left)
			}
			// Again over the same directory: files are replaced, not appended to.
			if _, err := ExtractPXE(context.Background(), iso, dest); err != nil {
				t.Fatal(err)
			}
			if left := leftovers(t, dest); len(left) != 3 {
				t.Errorf("after a second extraction: %v", left)
			}
		})
	}
}

// TestExtractPXEBadInput: each bad ISO is a one-line error naming the file
// and what is wrong, and nothing is left in the destination.
func TestExtractPXEBadInput(t *testing.T) {
	full := fixture.BootISOFiles()
	without := func(drop ...string) map[string][]byte {
		m := map[string][]byte{}
		for k, v := range full {
			m[k] = v
		}
		for _, d := range drop {
			delete(m, d)
		}
		return m
	}
	tests := []struct {
		name string
		iso  func(t *testing.T) string
		want []string
		ctx  func() context.Context
	}{
		{
			name: "missing file",
			iso:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope.iso") },
			want: []string{"open boot ISO", "nope.iso", "no such file"},
		},
		{
			name: "not an ISO",
			iso: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "disk.img")
				os.WriteFile(p, random(64<<10), 0o644)
				return p
			},
			want: []string{"disk.img is not an ISO-9660 image", "Oracle Linux boot ISO"},
		},
		{
			name: "empty file",
			iso: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "empty.iso")
				os.WriteFile(p, nil, 0o644)
				return p
			},
			want: []string{"empty.iso is not an ISO-9660 image"},
		},
		{
			name: "ISO without pxeboot files",
			iso:  func(t *testing.T) string { return buildISO(t, without(KernelPath, InitrdPath), "-R", "-J") },
			want: []string{"boot.iso has no images/pxeboot/vmlinuz or images/pxeboot/initrd.img", "UEK boot ISO"},
		},
		{
			name: "ISO without stage2",
			iso:  func(t *testing.T) string { return buildISO(t, without(Stage2Path), "-R", "-J") },
			want: []string{"boot.iso has no images/install.img"},
		},
		{
			name: "pxeboot is a file, not a directory",
			iso: func(t *testing.T) string {
				m := without(KernelPath, InitrdPath)
				m["images/pxeboot"] = []byte("x")
				return buildISO(t, m, "-R", "-J")
			},
			want: []string{"has no images/pxeboot/vmlinuz"},
		},
		{
			name: "truncated ISO",
			iso: func(t *testing.T) string {
				iso := buildISO(t, full, "-R", "-J")
				fi, _ := os.Stat(iso)
				os.Truncate(iso, fi.Size()-3<<20)
				return iso
			},
			want: []string{"boot.iso: ISO truncated"},
		},
		{
			name: "ISO cut after its volume descriptors",
			iso: func(t *testing.T) string {
				iso := buildISO(t, full, "-R", "-J")
				os.Truncate(iso, 19*2048)
				return iso
			},
			want: []string{"boot.iso: ISO truncated"},
		},
		{
			name: "cancelled",
			iso:  func(t *testing.T) string { return buildISO(t, full, "-R", "-J") },
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
			want: []string{"extract images/pxeboot/vmlinuz", "context canceled"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			dest := filepath.Join(t.TempDir(), "boot")
			_, err := ExtractPXE(ctx, tt.iso(t), dest)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if left := leftovers(t, dest); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// leftovers lists the regular files under dir.
func leftovers(t *testing.T, dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

func TestKernelArgsAndIPXE(t *testing.T) {
	b := Boot{BaseURL: "http://10.0.0.5:8080/boot/", KickstartURL: "http://10.0.0.5:8080/ks/ks.cfg"}
	args, err := KernelArgs(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(args, " "), "inst.ks=http://10.0.0.5:8080/ks/ks.cfg inst.stage2=http://10.0.0.5:8080/boot ip=dhcp"; got != want {
		t.Errorf("kernel args\n got %s\nwant %s", got, want)
	}
	b.IP, b.Proxy, b.ExtraArgs = "enp1s0:dhcp", "http://proxy.example.com:3128", []string{"console=ttyS0,115200n8", "inst.text"}
	script, err := IPXEScript(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"#!ipxe",
		"# OCK node installer, written by ocne-image",
		"dhcp",
		"kernel http://10.0.0.5:8080/boot/images/pxeboot/vmlinuz initrd=initrd.img inst.ks=http://10.0.0.5:8080/ks/ks.cfg inst.stage2=http://10.0.0.5:8080/boot ip=enp1s0:dhcp inst.proxy=http://proxy.example.com:3128 console=ttyS0,115200n8 inst.text",
		"initrd http://10.0.0.5:8080/boot/images/pxeboot/initrd.img",
		"boot",
	}
	got := strings.Split(strings.TrimSuffix(string(script), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("script:\n%s", script)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
	}
}

// TestBootRefuses: values that would add iPXE commands, ${} expansions or
// kernel arguments are refused naming the field.
func TestBootRefuses(t *testing.T) {
	ok := Boot{BaseURL: "http://10.0.0.5:8080/boot", KickstartURL: "http://10.0.0.5:8080/ks/ks.cfg"}
	tests := []struct {
		name   string
		change func(*Boot)
		field  string
	}{
		{"no base URL", func(b *Boot) { b.BaseURL = "" }, "BaseURL"},
		{"newline adds a command", func(b *Boot) { b.BaseURL += "\nshell" }, "BaseURL"},
		{"iPXE expansion", func(b *Boot) { b.KickstartURL = "http://x/${net0/mac}.cfg" }, "KickstartURL"},
		{"iPXE && chain", func(b *Boot) { b.ExtraArgs = []string{"a&&shell"} }, "ExtraArgs[0]"},
		{"space adds an argument", func(b *Boot) { b.IP = "dhcp inst.sshd" }, "IP"},
		{"tftp base", func(b *Boot) { b.BaseURL = "tftp://10.0.0.5/boot" }, "BaseURL"},
		{"proxy scheme", func(b *Boot) { b.Proxy = "socks5://p:1080" }, "Proxy"},
		{"no kickstart URL", func(b *Boot) { b.KickstartURL = "" }, "KickstartURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ok
			tt.change(&b)
			_, err := IPXEScript(b)
			var fe *kickstart.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("got %v, want an error on %s", err, tt.field)
			}
			if _, err := KernelArgs(b); err == nil {
				t.Error("KernelArgs accepted it")
			}
		})
	}
}
