package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	igntypes "github.com/coreos/ignition/v2/config/v3_4/types"
	"github.com/vincent-petithory/dataurl"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The join configs ocne 2.3.3 writes, entry by entry, read from its source
// (oracle-cne/ocne 55ed7b5: pkg/cluster/ignition/library.go, kubeadm.go,
// kubeproxy.go, virtual_ip.go; pkg/cluster/driver/byo/byo.go), and what the
// OCK image's first-boot scripts (oracle-cne/ock d0151a4:
// configs/common/systemd/ocne.sh, ocne-update.sh) read of them. Running
// those scripts needs an OCK node, which cannot boot here, so each entry
// states what the node reads as a check on our config: same path, mode
// and owner, and the same meaning. Where we differ on purpose, the entry
// says why, and the test holds us to the difference.

// joinCase is one `ignition join` the table is checked against.
type joinCase struct {
	name         string
	role         string // worker or control-plane
	clusterYAML  string
	proxy, vip   bool
	extras       bool // extraIgnition directory + extraIgnitionInline
	wantEndpoint string
	wantBindPort int // control planes: localAPIEndpoint.bindPort
	wantRegistry string
}

// joinConfigOf is one `ignition join` output, indexed for the table.
type joinConfigOf struct {
	c     joinCase
	raw   []byte
	files map[string]igntypes.File
	data  map[string]string
	dirs  map[string]bool
	units map[string]igntypes.Unit
	users map[string]igntypes.PasswdUser
	group map[string]igntypes.PasswdGroup
}

// tableEntry is one thing ocne's join config holds.
type tableEntry struct {
	what string // file:PATH, dir:PATH, unit:NAME, dropin:UNIT/NAME, user:NAME, group:NAME
	mode int    // files: the mode ocne writes
	// owner: the user and group ocne gives the file, "" for root
	owner string
	// when: the cases in which ocne writes it
	when func(joinCase) bool
	// meaning: what the node reads of it, checked on ours
	meaning func(t *testing.T, j joinConfigOf, content string)
	// differs: we do not write it, on purpose, and why
	differs string
}

func always(joinCase) bool { return true }
func withProxy(c joinCase) bool {
	return c.proxy
}
func vipControlPlane(c joinCase) bool { return c.vip && c.role == "control-plane" }

var proxiedUnits = []string{"crio.service", "kubelet.service", "ocne-update.service", "rpm-ostreed.service"}

// joinTable is ocne 2.3.3's join config.
func joinTable() []tableEntry {
	tbl := []tableEntry{
		{what: "file:/etc/kubernetes/kubeadm.conf", mode: 0o600, when: always, meaning: checkKubeadmConf},
		{what: "file:/etc/ocne/update.yaml", mode: 0o400, when: always, meaning: checkUpdateYAML},
		{what: "file:/etc/containers/registries.conf", mode: 0o644, when: always, meaning: func(t *testing.T, j joinConfigOf, s string) {
			if want := fmt.Sprintf("unqualified-search-registries = [%q]\n", j.c.wantRegistry); s != want {
				t.Errorf("registries.conf %q, want %q", s, want)
			}
		}},
		{what: "dir:/etc/ocne/ock/patches", when: always},
		{what: "file:/etc/ocne/ocne.sh", mode: 0o555, when: always,
			differs: "ocne overwrites the image's first-boot script with an older copy; the image's own (ock d0151a4) does more (default interface, unique host name, ocne-system namespace) and reads the same kubeadm.conf"},
		{what: "file:/etc/ocne/ocne-kubeadm-upgrade.sh", mode: 0o555, when: always,
			differs: "the image installs this no-op itself; a copy in Ignition would replace a future image's real script"},
		{what: "unit:ocne.service", when: always, meaning: checkEnabled},
		{what: "dropin:ocne.service/bootstrap.conf", when: always, meaning: func(t *testing.T, j joinConfigOf, s string) {
			env := environment(s)
			if env["ACTION"] != "join" {
				t.Errorf("ACTION %q, want join:\n%s", env["ACTION"], s)
			}
			// ocne.sh takes the default route's interface when unset.
			if want := yamlValue(j.c.clusterYAML, "networkInterface"); env["NET_INTERFACE"] != want {
				t.Errorf("NET_INTERFACE %q, want %q", env["NET_INTERFACE"], want)
			}
		}},
		{what: "unit:ocne-update.service", when: always, meaning: checkEnabled},
		{what: "unit:crio.service", when: always, meaning: checkEnabled},
		{what: "unit:kubelet.service", when: always, meaning: checkEnabled},
		{what: "unit:kublet.service", when: always,
			differs: "a typo in ocne's proxy code for kubelet.service; ours gives kubelet.service the proxy drop-in ocne meant to"},
		{what: "dropin:without-proxy", when: func(c joinCase) bool { return !c.proxy },
			differs: "ocne writes proxy.conf drop-ins holding only no_proxy even without a proxy; they change nothing, so we write none"},
		{what: "user:ocne", when: always, meaning: checkOcneUser},
		// Behind a virtual IP (ocne virtual_ip.go).
		{what: "file:/etc/keepalived/keepalived.conf", mode: 0o644, owner: "keepalived_script", when: vipControlPlane, meaning: func(t *testing.T, j joinConfigOf, s string) {
			flat := strings.Join(strings.Fields(s), " ")
			for _, w := range []string{"vrrp_instance VI_1 {", "state BACKUP", "interface enp1s0", "virtual_router_id 51", "priority 50",
				"unicast_peer { }", "virtual_ipaddress { 192.0.2.100 }", "track_script { check_apiserver }",
				`script "/etc/keepalived/check_apiserver.sh"`, "notify /etc/keepalived/keepalived_state.sh", "enable_script_security"} {
				if !strings.Contains(flat, w) {
					t.Errorf("keepalived.conf lacks %q:\n%s", w, s)
				}
			}
		}},
		{what: "file:/etc/keepalived/check_apiserver.sh", mode: 0o755, owner: "keepalived_script", when: vipControlPlane, meaning: checkShell("vip=192.0.2.100", "port=6443")},
		{what: "file:/etc/keepalived/keepalived_state.sh", mode: 0o755, owner: "keepalived_script", when: vipControlPlane, meaning: checkShell("/etc/keepalived/log")},
		{what: "file:/etc/keepalived/log", mode: 0o644, owner: "keepalived_script", when: vipControlPlane},
		{what: "file:/etc/ocne/nginx/nginx.conf", mode: 0o644, owner: "nginx_script", when: vipControlPlane, meaning: func(t *testing.T, j joinConfigOf, s string) {
			flat := strings.Join(strings.Fields(s), " ")
			for _, w := range []string{"listen 6443;", "listen [::]:6443;", fmt.Sprintf("server localhost:%d", j.c.wantBindPort), "proxy_pass backend1;", "stream {"} {
				if !strings.Contains(flat, w) {
					t.Errorf("nginx.conf lacks %q:\n%s", w, s)
				}
			}
		}},
		{what: "file:/etc/ocne/nginx/pull_ocne_nginx", mode: 0o755, when: vipControlPlane, meaning: checkShell("crictl pull")},
		{what: "file:/etc/ocne/nginx/start_ocne_nginx", mode: 0o755, when: vipControlPlane, meaning: checkShell("--network=host", "--volume=/etc/ocne/nginx:/etc/nginx")},
		// ocne pins container-registry.oracle.com; we take the site's
		// registry, so an air-gapped mirror serves nginx too.
		{what: "file:/etc/ocne/nginx/image", mode: 0o644, when: vipControlPlane, meaning: func(t *testing.T, j joinConfigOf, s string) {
			if want := "IMAGE=" + j.c.wantRegistry + "/olcne/nginx:1.17.7-1\n"; s != want {
				t.Errorf("nginx image %q, want %q", s, want)
			}
		}},
		{what: "unit:ocne-nginx.service", when: vipControlPlane, meaning: checkUnit("ExecStartPre=/etc/ocne/nginx/pull_ocne_nginx", "ExecStart=/etc/ocne/nginx/start_ocne_nginx", "WantedBy=keepalived.service")},
		{what: "unit:ocne-nginx-refresh.service", when: vipControlPlane, meaning: checkUnit("ExecStart=systemctl reload ocne-nginx.service")},
		{what: "unit:ocne-nginx-refresh.path", when: vipControlPlane, meaning: checkUnit("PathChanged=/etc/ocne/nginx/nginx.conf", "Unit=ocne-nginx-refresh.service")},
		{what: "unit:keepalived.service", when: vipControlPlane, meaning: checkEnabled},
		{what: "unit:keepalived-refresh.service", when: vipControlPlane, meaning: checkUnit("ExecStart=systemctl reload keepalived.service")},
		{what: "unit:keepalived-refresh.path", when: vipControlPlane, meaning: checkUnit("PathChanged=/etc/keepalived/keepalived.conf", "Unit=keepalived-refresh.service")},
		{what: "group:nginx_script", when: vipControlPlane},
		{what: "user:nginx_script", when: vipControlPlane},
		{what: "dropin:ocne-nginx.service/proxy.conf", when: func(c joinCase) bool { return vipControlPlane(c) && c.proxy }, meaning: checkProxyDropin},
	}
	for _, u := range proxiedUnits {
		tbl = append(tbl, tableEntry{what: "dropin:" + u + "/proxy.conf", when: withProxy, meaning: checkProxyDropin})
	}
	return tbl
}

func checkEnabled(t *testing.T, j joinConfigOf, _ string) {}

func checkShell(want ...string) func(*testing.T, joinConfigOf, string) {
	return func(t *testing.T, _ joinConfigOf, s string) {
		if !strings.HasPrefix(s, "#!/bin/bash\n") {
			t.Errorf("not a bash script:\n%s", s)
		}
		for _, w := range want {
			if !strings.Contains(s, w) {
				t.Errorf("lacks %q:\n%s", w, s)
			}
		}
		f := filepath.Join(t.TempDir(), "script")
		os.WriteFile(f, []byte(s), 0o755)
		if b, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
			t.Errorf("bash -n: %v\n%s", err, b)
		}
	}
}

// checkUnit: the unit text systemd and Ignition's parser read (it must end
// in a newline, see ocne's library.go).
func checkUnit(want ...string) func(*testing.T, joinConfigOf, string) {
	return func(t *testing.T, _ joinConfigOf, s string) {
		if !strings.HasSuffix(s, "\n") || !strings.Contains(s, "[Install]\nWantedBy=multi-user.target\n") {
			t.Errorf("unit text:\n%s", s)
		}
		for _, w := range want {
			if !strings.Contains(s, w+"\n") {
				t.Errorf("lacks %q:\n%s", w, s)
			}
		}
	}
}

// environment reads a [Service] drop-in's Environment= lines, quoted or not.
func environment(s string) map[string]string {
	env := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		v, ok := strings.CutPrefix(l, "Environment=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		if k, val, ok := strings.Cut(v, "="); ok {
			env[k] = val
		}
	}
	return env
}

// The proxy environment: both spellings (curl reads only the lower
// case), and NO_PROXY as ocne builds it: the user's list, the API
// server's address, the service and pod subnets.
func checkProxyDropin(t *testing.T, j joinConfigOf, s string) {
	env := environment(s)
	host := strings.Split(j.c.wantEndpoint, ":")[0]
	want := map[string]string{
		"HTTPS_PROXY": "http://proxy.example.com:3128", "HTTP_PROXY": "http://proxy.example.com:3128",
		"NO_PROXY": "example.com,.internal," + host + ",10.96.0.0/12,10.244.0.0/16",
	}
	for k, v := range want {
		if env[k] != v || env[strings.ToLower(k)] != v {
			t.Errorf("%s=%q %s=%q, want %q:\n%s", k, env[k], strings.ToLower(k), env[strings.ToLower(k)], v, s)
		}
	}
}

func checkUpdateYAML(t *testing.T, j joinConfigOf, s string) {
	var u map[string]string
	if err := yaml.Unmarshal([]byte(s), &u); err != nil {
		t.Fatalf("update.yaml: %v\n%s", err, s)
	}
	// ocne-update.sh: "$registry:$tag" through the transport's skopeo
	// form; a transport or tag in registry breaks every update.
	want := map[string]string{"registry": "registry.example.com/olcne/ock-ostree", "tag": "1.34", "transport": "ostree-unverified-registry"}
	if tag := yamlValue(j.c.clusterYAML, "osTag"); tag != "" {
		want["tag"] = tag
	}
	if !mapsEqual(u, want) {
		t.Errorf("update.yaml %v, want %v", u, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func checkOcneUser(t *testing.T, j joinConfigOf, _ string) {
	u := j.users["ocne"]
	if len(u.Groups) != 1 || u.Groups[0] != "wheel" || u.Shell == nil || *u.Shell != "/usr/bin/rescue.sh" {
		t.Errorf("ocne user %+v: want group wheel, shell /usr/bin/rescue.sh", u)
	}
	if len(u.SSHAuthorizedKeys) != 1 || !strings.HasPrefix(string(u.SSHAuthorizedKeys[0]), "ssh-ed25519 ") {
		t.Errorf("ssh keys %v", u.SSHAuthorizedKeys)
	}
	if u.PasswordHash == nil || !strings.HasPrefix(*u.PasswordHash, "$6$") {
		t.Errorf("password hash %v", u.PasswordHash)
	}
}

// kubeadm.conf as ocne's kubeadm.go writes it and ocne.sh runs it (after
// replacing NODE_IP).
func checkKubeadmConf(t *testing.T, j joinConfigOf, s string) {
	docs := strings.Split(s, "\n---\n")
	var jc struct {
		Kind      string
		Discovery struct {
			BootstrapToken struct {
				APIServerEndpoint string
				Token             string
				CACertHashes      []string
			}
		}
		NodeRegistration struct {
			KubeletExtraArgs []struct{ Name, Value string }
		}
		ControlPlane *struct {
			LocalAPIEndpoint struct {
				AdvertiseAddress string
				BindPort         int
			}
			CertificateKey string
		}
		SkipPhases []string
		Patches    struct{ Directory string }
	}
	if err := yaml.Unmarshal([]byte(docs[0]), &jc); err != nil {
		t.Fatal(err)
	}
	bt := jc.Discovery.BootstrapToken
	if jc.Kind != "JoinConfiguration" || bt.APIServerEndpoint != j.c.wantEndpoint || len(bt.Token) != 23 || len(bt.CACertHashes) != 1 {
		t.Errorf("discovery %+v, want endpoint %s", jc.Discovery, j.c.wantEndpoint)
	}
	if !slices.Equal(jc.SkipPhases, []string{"preflight"}) || jc.Patches.Directory != "/etc/ocne/ock/patches" {
		t.Errorf("skipPhases %v, patches %q", jc.SkipPhases, jc.Patches.Directory)
	}
	args := map[string]string{}
	for _, a := range jc.NodeRegistration.KubeletExtraArgs {
		args[a.Name] = a.Value
	}
	// ocne also sets authorization-mode AlwaysAllow, which lets anyone who
	// reaches the kubelet run commands in its pods: on purpose, we keep
	// kubeadm's Webhook authorization.
	want := map[string]string{"node-ip": "NODE_IP", "address": "0.0.0.0", "volume-plugin-dir": "/var/lib/kubelet/volumeplugins"}
	if cs := yamlValue(j.c.clusterYAML, "cipherSuites"); cs != "" {
		want["tls-cipher-suites"] = cs
	}
	if !mapsEqual(args, want) {
		t.Errorf("kubeletExtraArgs %v, want %v", args, want)
	}
	if j.c.role != "control-plane" {
		if jc.ControlPlane != nil || len(docs) != 1 {
			t.Errorf("a worker with a control-plane part:\n%s", s)
		}
		return
	}
	if cp := jc.ControlPlane; cp == nil || cp.LocalAPIEndpoint.AdvertiseAddress != "NODE_IP" || cp.LocalAPIEndpoint.BindPort != j.c.wantBindPort || len(cp.CertificateKey) != 64 {
		t.Errorf("controlPlane %+v, want bindPort %d", cp, j.c.wantBindPort)
	}
	var kp struct{ Kind, Mode, MetricsBindAddress string }
	if len(docs) != 2 || yaml.Unmarshal([]byte(docs[1]), &kp) != nil {
		t.Fatalf("no KubeProxyConfiguration:\n%s", s)
	}
	mode := yamlValue(j.c.clusterYAML, "kubeProxyMode")
	if mode == "" {
		mode = "iptables"
	}
	if kp.Kind != "KubeProxyConfiguration" || kp.Mode != mode || kp.MetricsBindAddress != "0.0.0.0:10249" {
		t.Errorf("KubeProxyConfiguration %+v, want mode %s", kp, mode)
	}
}

// yamlValue is a top-level or providers.byo key of a case's cluster config.
func yamlValue(doc, key string) string {
	var m struct {
		Extra     map[string]any `json:",inline"`
		Providers struct{ BYO map[string]any }
	}
	yaml.Unmarshal([]byte(doc), &m.Extra)
	yaml.Unmarshal([]byte(doc), &m)
	for _, v := range []any{m.Extra[key], m.Providers.BYO[key]} {
		if v != nil {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// index parses a join output for the table.
func index(t *testing.T, c joinCase, raw []byte) joinConfigOf {
	t.Helper()
	cfg, _, _ := readJoin(t, raw)
	j := joinConfigOf{c: c, raw: raw, files: map[string]igntypes.File{}, data: map[string]string{}, dirs: map[string]bool{},
		units: map[string]igntypes.Unit{}, users: map[string]igntypes.PasswdUser{}, group: map[string]igntypes.PasswdGroup{}}
	for _, f := range cfg.Storage.Files {
		j.files[f.Path] = f
		if f.Contents.Source != nil {
			d, err := dataurl.DecodeString(*f.Contents.Source)
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			j.data[f.Path] = string(d.Data)
		}
	}
	for _, d := range cfg.Storage.Directories {
		j.dirs[d.Path] = true
	}
	for _, u := range cfg.Systemd.Units {
		j.units[u.Name] = u
	}
	for _, u := range cfg.Passwd.Users {
		j.users[u.Name] = u
	}
	for _, g := range cfg.Passwd.Groups {
		j.group[g.Name] = g
	}
	return j
}

// check holds one config to the table.
func (j joinConfigOf) check(t *testing.T, tbl []tableEntry) {
	seen := map[string]bool{}
	for _, e := range tbl {
		kind, name, _ := strings.Cut(e.what, ":")
		want := e.when(j.c) && e.differs == ""
		var present bool
		var content string
		switch kind {
		case "file":
			f, ok := j.files[name]
			present, content = ok, j.data[name]
			seen[name] = true
			if ok && want {
				if f.Mode == nil || *f.Mode != e.mode {
					t.Errorf("%s: mode %v, ocne writes %o", name, f.Mode, e.mode)
				}
				var owner string
				if f.User.Name != nil {
					owner = *f.User.Name
				}
				if f.Group.Name != nil && *f.Group.Name != owner {
					t.Errorf("%s: owner %s, group %s", name, owner, *f.Group.Name)
				}
				if owner != e.owner {
					t.Errorf("%s: owner %q, ocne's %q", name, owner, e.owner)
				}
			}
		case "dir":
			present = j.dirs[name]
		case "unit":
			u, ok := j.units[name]
			present = ok
			seen["unit:"+name] = true
			if ok && want {
				if u.Enabled == nil || !*u.Enabled {
					t.Errorf("%s is not enabled", name)
				}
				if u.Contents != nil {
					content = *u.Contents
				}
			}
		case "dropin":
			unit, dropin, _ := strings.Cut(name, "/")
			if name == "without-proxy" {
				if !e.when(j.c) {
					continue
				}
				for _, u := range j.units {
					for _, d := range u.Dropins {
						present = present || d.Name == "proxy.conf"
					}
				}
				break
			}
			for _, d := range j.units[unit].Dropins {
				if d.Name == dropin && d.Contents != nil {
					present, content = true, *d.Contents
				}
			}
		case "user":
			_, present = j.users[name]
		case "group":
			_, present = j.group[name]
		}
		switch {
		case want && !present:
			t.Errorf("%s missing (ocne writes it)", e.what)
		case !want && present:
			why := e.differs
			if why == "" {
				why = "ocne does not write it here"
			}
			t.Errorf("%s present: %s", e.what, why)
		case want && e.meaning != nil:
			t.Run(e.what, func(t *testing.T) { e.meaning(t, j, content) })
		}
	}
	// Nothing of ours outside ocne's table but what the user added.
	for path := range j.files {
		if !seen[path] && !strings.HasPrefix(path, "/etc/extra/") {
			t.Errorf("file %s is not in ocne's join config", path)
		}
	}
	for name := range j.units {
		if !seen["unit:"+name] && name != "rpm-ostreed.service" && name != "extra.service" {
			t.Errorf("unit %s is not in ocne's join config", name)
		}
	}
}

// TestIgnitionJoinTable: worker, control plane behind a load balancer, and
// control plane behind a virtual IP, with and without a proxy, with an
// extraIgnition directory and extraIgnitionInline; each config passes the
// table, ignition-validate and kubeadm config validate, and real Ignition
// writes its files (the patches directory among them).
func TestIgnitionJoinTable(t *testing.T) {
	j := clusterOnly(t)
	home := t.TempDir()
	// ocne's default key: ~/.ssh/id_rsa.pub.
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "id_rsa.pub"), []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq2 test@example\n"), 0o644)
	common := "osRegistry: registry.example.com/olcne/ock-ostree\nregistry: mirror.example.com\npassword: $6$salt$hash\n" +
		"providers:\n  byo:\n    automaticTokenCreation: false\n    networkInterface: enp1s0\n"
	proxy := "proxy:\n  httpsProxy: http://proxy.example.com:3128\n  httpProxy: http://proxy.example.com:3128\n  noProxy: example.com,.internal\n"
	cases := []joinCase{
		{name: "worker", role: "worker", clusterYAML: common + "loadBalancer: lb.example.com\n",
			wantEndpoint: "lb.example.com:6443"},
		{name: "worker with proxy and extras", role: "worker", clusterYAML: common + proxy + "loadBalancer: lb.example.com\nosTag: 1.33\nextraIgnition: ign.d\n" +
			"extraIgnitionInline: |\n  {\"ignition\": {\"version\": \"3.4.0\"}, \"storage\": {\"files\": [{\"path\": \"/etc/extra/inline\", \"contents\": {\"source\": \"data:,inline\"}}]}}\n",
			proxy: true, extras: true, wantEndpoint: "lb.example.com:6443"},
		{name: "control plane behind a load balancer", role: "control-plane", clusterYAML: common + proxy + "loadBalancer: lb.example.com\nkubeApiServerBindPort: 7443\nkubeProxyMode: ipvs\n",
			proxy: true, wantEndpoint: "lb.example.com:7443", wantBindPort: 7443},
		{name: "control plane behind a virtual IP", role: "control-plane", clusterYAML: common + "virtualIp: 192.0.2.100\ncipherSuites: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256\n",
			vip: true, wantEndpoint: "192.0.2.100:6443", wantBindPort: 6444},
		{name: "control plane behind a virtual IP with proxy", role: "control-plane", clusterYAML: common + proxy + "virtualIp: 192.0.2.100\nkubeApiServerBindPortAlt: 16443\n",
			proxy: true, vip: true, wantEndpoint: "192.0.2.100:6443", wantBindPort: 16443},
		{name: "worker behind a virtual IP", role: "worker", clusterYAML: common + "virtualIp: 192.0.2.100\n",
			vip: true, wantEndpoint: "192.0.2.100:6443"},
	}
	for i := range cases {
		cases[i].wantRegistry = "mirror.example.com"
	}
	tbl := joinTable()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfgFile := filepath.Join(dir, "cluster.yaml")
			os.WriteFile(cfgFile, []byte(c.clusterYAML), 0o644)
			if c.extras {
				// Relative to the config file; merged in name order, inline last.
				os.MkdirAll(filepath.Join(dir, "ign.d"), 0o755)
				os.WriteFile(filepath.Join(dir, "ign.d", "10-json.ign"), []byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/extra/a","contents":{"source":"data:,json"}},{"path":"/etc/extra/order","contents":{"source":"data:,first"}}]}}`), 0o644)
				os.WriteFile(filepath.Join(dir, "ign.d", "20-butane.bu"), []byte("variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n  - path: /etc/extra/order\n    overwrite: true\n    contents:\n      inline: second\nsystemd:\n  units:\n  - name: extra.service\n    enabled: true\n    contents: |\n      [Service]\n      ExecStart=/bin/true\n      [Install]\n      WantedBy=multi-user.target\n"), 0o644)
			}
			// From another directory: relative paths follow the config file.
			r := plugin(t, home, "ignition", "join", "--role", c.role, "--kubeconfig", j.kubeconfig, "-c", cfgFile, "--ttl", "10m")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			// automaticTokenCreation: false, as ocne: the command, no token.
			if !strings.Contains(r.stderr, "kubeadm token create") {
				t.Errorf("no token command printed: %s", r.stderr)
			}
			jc := index(t, c, []byte(r.stdout))
			jc.check(t, tbl)
			if c.extras {
				for path, want := range map[string]string{"/etc/extra/a": "json", "/etc/extra/order": "second", "/etc/extra/inline": "inline"} {
					if jc.data[path] != want {
						t.Errorf("%s = %q, want %q", path, jc.data[path], want)
					}
				}
				if u, ok := jc.units["extra.service"]; !ok || u.Enabled == nil || !*u.Enabled {
					t.Errorf("extra.service from the Butane file: %+v", u)
				}
			}
			out := filepath.Join(dir, "node.ign")
			os.WriteFile(out, jc.raw, 0o600)
			if b, err := exec.Command(ignitionTool(t, "ignition-validate"), out).CombinedOutput(); err != nil {
				t.Errorf("ignition-validate: %v\n%s", err, b)
			}
			kubeadmValidate(t, strings.ReplaceAll(jc.data["/etc/kubernetes/kubeadm.conf"], "NODE_IP", "192.0.2.10"))
			root := runIgnition(t, jc.raw)
			if fi, err := os.Stat(filepath.Join(root, "etc/ocne/ock/patches")); err != nil || !fi.IsDir() {
				t.Errorf("patches directory not made: %v", err)
			}
			for path, f := range jc.files {
				mode := 0o644 // Ignition's default
				if f.Mode != nil {
					mode = *f.Mode
				}
				fi, err := os.Stat(filepath.Join(root, path))
				if err != nil {
					t.Errorf("Ignition did not write %s: %v", path, err)
				} else if int(fi.Mode().Perm()) != mode {
					t.Errorf("%s on disk %v, want %o", path, fi.Mode().Perm(), mode)
				}
			}
		})
	}
}

// withoutAccounts drops users, groups and file owners from a config: real
// Ignition would run this host's useradd, and look the owners up in the
// scratch root, which has no passwd (machine.md). The table checks those.
func withoutAccounts(t *testing.T, raw []byte) []byte {
	t.Helper()
	var cfg igntypes.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Passwd = igntypes.Passwd{}
	for i := range cfg.Storage.Files {
		cfg.Storage.Files[i].User, cfg.Storage.Files[i].Group = igntypes.NodeUser{}, igntypes.NodeGroup{}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIgnitionJoinConfigBadInput: the cluster config's own mistakes, one
// line each, exit 2, no file and no token left.
func TestIgnitionJoinConfigBadInput(t *testing.T) {
	j := clusterOnly(t)
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "ign.d")
	os.MkdirAll(notJSON, 0o755)
	os.WriteFile(filepath.Join(notJSON, "10-good.ign"), []byte(`{"ignition":{"version":"3.4.0"}}`), 0o644)
	os.WriteFile(filepath.Join(notJSON, "README"), []byte("notes about these files\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "empty.d"), 0o755)
	tests := []struct{ name, yaml, role, wantMsg string }{
		{"osRegistry with a tag", "osRegistry: registry.example.com/olcne/ock-ostree:1.31\n", "worker", "carries a tag"},
		{"osRegistry with transport and tag", "osRegistry: ostree-unverified-registry:registry.example.com/ock:1.31\n", "worker", "carries a tag"},
		{"extraIgnition missing", "extraIgnition: missing.ign\n", "worker", "missing.ign: no such file"},
		{"extraIgnition dir with a non-JSON file", "extraIgnition: ign.d\n", "worker", "ign.d/README: neither Ignition JSON nor Butane"},
		{"extraIgnition empty dir", "extraIgnition: empty.d\n", "worker", "holds no files"},
		{"extraIgnitionInline broken", "extraIgnitionInline: '{\"ignition\":'\n", "worker", "extraIgnitionInline: not valid JSON"},
		{"bind port out of range", "kubeApiServerBindPort: 70000\n", "worker", "kubeApiServerBindPort 70000 is not a port"},
		{"virtual IP not an IP", "virtualIp: not-an-ip\n", "worker", `virtualIp "not-an-ip" is not an IP address`},
		{"virtual IP and load balancer", "virtualIp: 192.0.2.1\nloadBalancer: lb.example.com\n", "worker", "both set"},
		{"VIP control plane without interface", "virtualIp: 192.0.2.1\n", "control-plane", "networkInterface"},
		{"unknown kube-proxy mode", "kubeProxyMode: userspace\n", "control-plane", "kubeProxyMode"},
		{"unknown cipher suite", "cipherSuites: RC4\n", "worker", "cipherSuites"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "cluster.yaml")
			os.WriteFile(cfg, []byte(tt.yaml), 0o644)
			j.refusedJoin(t, 2, tt.wantMsg, "--role", tt.role, "--kubeconfig", j.kubeconfig, "-c", cfg)
		})
	}
}

// TestIgnitionJoinAutomaticTokenCreation: ocne's key decides whether the
// token is created, unless our flag says otherwise.
func TestIgnitionJoinAutomaticTokenCreation(t *testing.T) {
	j := clusterOnly(t)
	tests := []struct {
		name   string
		yaml   string
		flags  []string
		create bool
	}{
		{"false prints the command", "providers:\n  byo:\n    automaticTokenCreation: false\n", nil, false},
		{"true creates the token", "providers:\n  byo:\n    automaticTokenCreation: true\n", nil, true},
		{"unset creates the token", "registry: mirror.example.com\n", nil, true},
		{"the flag wins over true", "providers:\n  byo:\n    automaticTokenCreation: true\n", []string{"--token-only-print"}, false},
		{"the flag wins over false", "providers:\n  byo:\n    automaticTokenCreation: false\n", []string{"--token-only-print=false"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "cluster.yaml")
			os.WriteFile(cfg, []byte(tt.yaml), 0o644)
			before := j.ourTokens(t)
			r := plugin(t, t.TempDir(), append([]string{"ignition", "join", "--kubeconfig", j.kubeconfig, "-c", cfg, "--ttl", "10m"}, tt.flags...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			_, _, jc := readJoin(t, []byte(r.stdout))
			id, _, _ := strings.Cut(jc.Discovery.BootstrapToken.Token, ".")
			_, err := j.cs.CoreV1().Secrets("kube-system").Get(t.Context(), "bootstrap-token-"+id, metav1.GetOptions{})
			if created := err == nil; created != tt.create {
				t.Errorf("Secret bootstrap-token-%s exists: %v, want %v (%v)", id, created, tt.create, err)
			}
			if tt.create {
				j.deleteToken(t, id)
				if after := j.ourTokens(t); len(after) != len(before)+1 {
					t.Errorf("tokens before %v, after %v", before, after)
				}
			} else if !strings.Contains(r.stderr, "kubeadm token create "+jc.Discovery.BootstrapToken.Token) {
				t.Errorf("no token command in: %s", r.stderr)
			}
		})
	}
}
