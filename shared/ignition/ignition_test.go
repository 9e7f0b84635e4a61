package ignition

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v35 "github.com/coreos/ignition/v2/config/v3_5"
	"github.com/coreos/ignition/v2/config/v3_5/types"
	"github.com/vincent-petithory/dataurl"
)

func sample() Node {
	return Node{
		KubeadmConfig: []byte("kind: JoinConfiguration\n"), NetInterface: "enp1s0", PatchesDir: "/etc/ocne/ock/patches",
		Update:            Update{Registry: "container-registry.oracle.com/olcne/ock-ostree", Tag: "1.31", Transport: "ostree-unverified-registry"},
		ContainerRegistry: DefaultContainerRegistry,
	}
}

func parse(t *testing.T, raw []byte) types.Config {
	t.Helper()
	c, rpt, err := v35.ParseCompatibleVersion(raw)
	if err != nil {
		t.Fatalf("parse: %v %s\n%s", err, rpt, raw)
	}
	return c
}

func fileData(t *testing.T, c types.Config, path string) (string, int) {
	t.Helper()
	for _, f := range c.Storage.Files {
		if f.Path == path {
			d, err := dataurl.DecodeString(*f.Contents.Source)
			if err != nil {
				t.Fatal(err)
			}
			mode := -1
			if f.Mode != nil {
				mode = *f.Mode
			}
			return string(d.Data), mode
		}
	}
	t.Fatalf("no file %s", path)
	return "", 0
}

func unit(c types.Config, name string) *types.Unit {
	for i := range c.Systemd.Units {
		if c.Systemd.Units[i].Name == name {
			return &c.Systemd.Units[i]
		}
	}
	return nil
}

func TestBuildVersions(t *testing.T) {
	for _, v := range Versions {
		t.Run(v, func(t *testing.T) {
			out, err := Build(sample(), v)
			if err != nil {
				t.Fatal(err)
			}
			var head struct{ Ignition struct{ Version string } }
			json.Unmarshal(out, &head)
			if head.Ignition.Version != v {
				t.Errorf("version %q, want %s", head.Ignition.Version, v)
			}
		})
	}
	if _, err := Build(sample(), "3.6.0-experimental"); err == nil || !strings.Contains(err.Error(), "3.4.0") {
		t.Errorf("experimental version: %v", err)
	}
}

func TestBuildContent(t *testing.T) {
	n := sample()
	n.Proxy = Proxy{HTTPSProxy: "http://proxy:3128", NoProxy: NoProxyList("example.com, .internal", "10.96.0.0/12", "example.com")}
	n.User = User{SSHKeys: []string{"ssh-ed25519 AAAA test"}, PasswordHash: "$6$salt$hash"}
	out, err := Build(n, DefaultVersion)
	if err != nil {
		t.Fatal(err)
	}
	c := parse(t, out)
	if d, mode := fileData(t, c, KubeadmConfigPath); mode != 0o600 || d != string(n.KubeadmConfig) {
		t.Errorf("kubeadm.conf mode %o: %q", mode, d)
	}
	if d, mode := fileData(t, c, UpdateConfigPath); mode != 0o400 || d != "registry: container-registry.oracle.com/olcne/ock-ostree\ntag: 1.31\ntransport: ostree-unverified-registry\n" {
		t.Errorf("update.yaml mode %o: %q", mode, d)
	}
	if d, _ := fileData(t, c, RegistriesConfPath); d != "unqualified-search-registries = [\"container-registry.oracle.com\"]\n" {
		t.Errorf("registries.conf %q", d)
	}
	if d := c.Storage.Directories; len(d) != 1 || d[0].Path != "/etc/ocne/ock/patches" {
		t.Errorf("directories %+v", d)
	}
	ocne := unit(c, OcneUnit)
	if ocne == nil || !*ocne.Enabled || len(ocne.Dropins) != 1 || *ocne.Dropins[0].Contents != "[Service]\nEnvironment=ACTION=join\nEnvironment=NET_INTERFACE=enp1s0\n" {
		t.Errorf("ocne.service %+v", ocne)
	}
	wantProxy := "[Service]\nEnvironment=\"HTTPS_PROXY=http://proxy:3128\"\nEnvironment=\"https_proxy=http://proxy:3128\"\n" +
		"Environment=\"NO_PROXY=example.com,.internal,10.96.0.0/12\"\nEnvironment=\"no_proxy=example.com,.internal,10.96.0.0/12\"\n"
	for _, name := range []string{"crio.service", "kubelet.service", "ocne-update.service", "rpm-ostreed.service"} {
		u := unit(c, name)
		if u == nil || len(u.Dropins) != 1 || u.Dropins[0].Name != ProxyDropin || *u.Dropins[0].Contents != wantProxy {
			t.Errorf("%s: %+v", name, u)
			continue
		}
		if enabled := u.Enabled != nil && *u.Enabled; enabled == (name == "rpm-ostreed.service") {
			t.Errorf("%s enabled = %v", name, enabled)
		}
	}
	u := c.Passwd.Users
	if len(u) != 1 || u[0].Name != UserName || *u[0].PasswordHash != "$6$salt$hash" || len(u[0].SSHAuthorizedKeys) != 1 ||
		*u[0].Shell != UserShell || len(u[0].Groups) != 1 || u[0].Groups[0] != UserGroup {
		t.Errorf("users %+v", u)
	}
}

// The ocne user exists without credentials too (console rescue shell),
// and no proxy means no proxy drop-ins.
func TestBuildMinimal(t *testing.T) {
	c := parse(t, must(Build(sample(), DefaultVersion)))
	if u := c.Passwd.Users; len(u) != 1 || u[0].Name != UserName || u[0].PasswordHash != nil || len(u[0].SSHAuthorizedKeys) != 0 {
		t.Errorf("users %+v", u)
	}
	for _, u := range c.Systemd.Units {
		for _, d := range u.Dropins {
			if d.Name == ProxyDropin {
				t.Errorf("%s has a proxy drop-in without a proxy", u.Name)
			}
		}
	}
	if unit(c, "rpm-ostreed.service") != nil {
		t.Error("rpm-ostreed.service listed without a proxy")
	}
}

// A control plane behind a virtual IP gets keepalived and nginx: files
// with their owners, enabled units that end in a newline (Ignition's
// systemd parser needs it), the nginx_script user, and the proxy for
// nginx's pull.
func TestBuildVirtualIP(t *testing.T) {
	n := sample()
	n.VirtualIP = &VirtualIP{Address: "192.0.2.100", Port: 6443, AltPort: 6444}
	n.ContainerRegistry = "mirror.example.com"
	n.Proxy = Proxy{HTTPProxy: "http://proxy:3128"}
	c := parse(t, must(Build(n, DefaultVersion)))
	for path, want := range map[string]string{
		keepalivedConf:  "interface enp1s0",
		keepalivedCheck: "port=6443",
		nginxConf:       "server localhost:6444",
		nginxImageFile:  "IMAGE=mirror.example.com/olcne/nginx:1.17.7-1",
	} {
		if d, _ := fileData(t, c, path); !strings.Contains(d, want) {
			t.Errorf("%s lacks %q:\n%s", path, want, d)
		}
	}
	if d, _ := fileData(t, c, keepalivedConf); !strings.Contains(d, "        192.0.2.100\n") {
		t.Errorf("keepalived.conf has no virtual address:\n%s", d)
	}
	for _, name := range []string{nginxUnit, "ocne-nginx-refresh.service", "ocne-nginx-refresh.path", keepalivedUnit, "keepalived-refresh.service", "keepalived-refresh.path"} {
		u := unit(c, name)
		if u == nil || u.Enabled == nil || !*u.Enabled {
			t.Errorf("%s not enabled: %+v", name, u)
			continue
		}
		if u.Contents != nil && !strings.HasSuffix(*u.Contents, "\n") {
			t.Errorf("%s does not end in a newline", name)
		}
	}
	if u := unit(c, nginxUnit); len(u.Dropins) != 1 || u.Dropins[0].Name != ProxyDropin {
		t.Errorf("ocne-nginx.service has no proxy drop-in: %+v", u.Dropins)
	}
	if g := c.Passwd.Groups; len(g) != 1 || g[0].Name != nginxUser {
		t.Errorf("groups %+v", g)
	}
	n.NetInterface = ""
	if _, err := Build(n, DefaultVersion); err == nil || !strings.Contains(err.Error(), "networkInterface") {
		t.Errorf("no interface: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// What the user adds is merged last: it wins over ours, file by file.
func TestBuildExtra(t *testing.T) {
	tests := []struct {
		name, extra, version string
		wantErr              string
	}{
		{"ignition JSON", `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/containers/registries.conf","overwrite":true,"contents":{"source":"data:,mine"}},{"path":"/etc/motd","contents":{"source":"data:,hello"}}]}}`, "3.4.0", ""},
		{"older spec JSON", `{"ignition":{"version":"3.2.0"},"storage":{"files":[{"path":"/etc/containers/registries.conf","overwrite":true,"contents":{"source":"data:,mine"}},{"path":"/etc/motd","contents":{"source":"data:,hello"}}]}}`, "3.5.0", ""},
		{"butane YAML", "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n  - path: /etc/containers/registries.conf\n    overwrite: true\n    contents:\n      inline: mine\n  - path: /etc/motd\n    contents:\n      inline: hello\n", "3.4.0", ""},
		{"broken JSON", `{"ignition":{"version":"3.4.0"},`, "3.4.0", "not valid JSON"},
		{"neither", "just: [some yaml", "3.4.0", "neither Ignition JSON nor Butane"},
		{"butane without variant", "storage: {}\n", "3.4.0", "neither Ignition JSON nor Butane"},
		{"invalid ignition", `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"relative"}]}}`, "3.4.0", "extra.ign: "},
		{"newer than the output", `{"ignition":{"version":"3.5.0"}}`, "3.4.0", "newer than 3.4.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Build(sample(), tt.version, Extra{Name: "extra.ign", Data: []byte(tt.extra)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Errorf("error %v, want one line with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := parse(t, out)
			if d, _ := fileData(t, c, RegistriesConfPath); d != "mine" {
				t.Errorf("registries.conf %q: extra did not win", d)
			}
			if d, _ := fileData(t, c, "/etc/motd"); d != "hello" {
				t.Errorf("motd %q", d)
			}
			if d, _ := fileData(t, c, KubeadmConfigPath); d == "" {
				t.Error("kubeadm.conf lost in the merge")
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.ign")
	if err := WriteFile(path, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "missing", "x.ign"), nil); err == nil {
		t.Error("no error for a missing directory")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}
