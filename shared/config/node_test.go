package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The cluster file wins over defaults.yaml key by key, for the node keys
// as for the others.
func TestLoadNode(t *testing.T) {
	dir := t.TempDir()
	defaults := filepath.Join(dir, "defaults.yaml")
	cluster := filepath.Join(dir, "cluster.yaml")
	os.WriteFile(defaults, []byte("registry: reg.example.com\npassword: $6$a\nkubeApiServerBindPort: 6443\nproviders:\n  byo:\n    networkInterface: eth0\n    automaticTokenCreation: true\n"), 0o644)
	os.WriteFile(cluster, []byte("password: $6$b\nkubeApiServerBindPort: 6444\nkubeApiServerBindPortAlt: 7444\npodSubnet: 10.1.0.0/16\ncipherSuites: TLS_AES_128_GCM_SHA256\nproviders:\n  byo:\n    networkInterface: enp1s0\n    automaticTokenCreation: false\n"), 0o644)
	c, _, err := Read(Files{Defaults: defaults, Cluster: cluster})
	if err != nil {
		t.Fatal(err)
	}
	no := false
	want := Node{Registry: "reg.example.com", Password: "$6$b", KubeAPIServerBindPort: 6444, KubeAPIServerBindPortAlt: 7444,
		PodSubnet: "10.1.0.0/16", CipherSuites: "TLS_AES_128_GCM_SHA256",
		Providers: Providers{BYO: BYO{NetworkInterface: "enp1s0", AutomaticTokenCreation: &no}}}
	if !reflect.DeepEqual(c.Node, want) {
		t.Errorf("got %+v\nwant %+v", c.Node, want)
	}
}

// A false automaticTokenCreation is a value, not an unset key: it must
// survive a merge over a true one, and unset must stay nil.
func TestAutomaticTokenCreationUnset(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "c.yaml")
	os.WriteFile(f, []byte("registry: r.example.com\n"), 0o644)
	c, _, err := Read(Files{Cluster: f})
	if err != nil {
		t.Fatal(err)
	}
	if c.Providers.BYO.AutomaticTokenCreation != nil {
		t.Errorf("unset key read as %v", *c.Providers.BYO.AutomaticTokenCreation)
	}
}

// extraIgnition is relative to the file that names it, or to its
// `directory:`, as ocne reads it.
func TestExtraIgnitionRelative(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ yaml, want string }{
		{"extraIgnition: extra.ign\n", filepath.Join(dir, "extra.ign")},
		{"extraIgnition: ign.d\ndirectory: sub\n", filepath.Join(dir, "sub", "ign.d")},
		{"extraIgnition: x\ndirectory: /srv/cluster\n", "/srv/cluster/x"},
		{"extraIgnition: /abs/extra.bu\n", "/abs/extra.bu"},
	}
	for _, tt := range tests {
		f := filepath.Join(dir, "cluster.yaml")
		os.WriteFile(f, []byte(tt.yaml), 0o644)
		c, _, err := Read(Files{Cluster: f})
		if err != nil {
			t.Fatal(err)
		}
		if c.ExtraIgnition != tt.want {
			t.Errorf("%q: extraIgnition %q, want %q", tt.yaml, c.ExtraIgnition, tt.want)
		}
	}
}

func TestNodeValidate(t *testing.T) {
	tests := []struct {
		name    string
		n       Node
		wantErr string
	}{
		{"empty", Node{}, ""},
		{"everything", Node{KubeAPIServerBindPort: 6443, KubeAPIServerBindPortAlt: 6444, VirtualIP: "192.0.2.10", PodSubnet: "10.244.0.0/16,fd00:10::/56",
			ServiceSubnet: "10.96.0.0/12", KubeProxyMode: "ipvs", CipherSuites: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384"}, ""},
		{"IPv6 virtual IP", Node{VirtualIP: "fd00::10"}, ""},
		{"port too big", Node{KubeAPIServerBindPort: 70000}, "kubeApiServerBindPort 70000 is not a port"},
		{"alt port negative", Node{KubeAPIServerBindPortAlt: -1}, "kubeApiServerBindPortAlt -1"},
		{"same ports behind a VIP", Node{VirtualIP: "192.0.2.10", KubeAPIServerBindPort: 6444}, "both 6444"},
		{"virtual IP not an IP", Node{VirtualIP: "not-an-ip"}, `virtualIp "not-an-ip" is not an IP address`},
		{"VIP and LB", Node{VirtualIP: "192.0.2.10", LoadBalancer: "lb.example.com"}, "both set"},
		{"bad LB", Node{LoadBalancer: "http://lb"}, "loadBalancer"},
		{"bad pod subnet", Node{PodSubnet: "10.244.0.0"}, "podSubnet"},
		{"pod subnet in the service subnet", Node{PodSubnet: "10.100.0.0/16"}, "podSubnet 10.100.0.0/16 overlaps serviceSubnet 10.96.0.0/12"},
		{"service subnet over the pods", Node{ServiceSubnet: "10.0.0.0/8"}, "overlaps"},
		{"bad proxy mode", Node{KubeProxyMode: "userspace"}, "kubeProxyMode"},
		{"bad cipher", Node{CipherSuites: "TLS_RSA_WITH_RC4"}, `"TLS_RSA_WITH_RC4" is not a TLS cipher suite`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.n.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tt.wantErr)
			}
		})
	}
}
