package kubeadm

import (
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestAPIVersionFor(t *testing.T) {
	tests := []struct{ kube, want string }{
		{"v1.34.4", V1Beta4},
		{"v1.31.0", V1Beta4},
		{"1.31", V1Beta4},
		{"v1.30.9", V1Beta3},
		{"1.26", V1Beta3},
		{"v1.33.1+ocne", V1Beta4},
	}
	for _, tt := range tests {
		got, err := APIVersionFor(tt.kube)
		if err != nil || got != tt.want {
			t.Errorf("APIVersionFor(%q) = %q, %v; want %q", tt.kube, got, err, tt.want)
		}
	}
	if _, err := APIVersionFor("latest"); err == nil {
		t.Error("APIVersionFor(latest) did not fail")
	}
}

// The kubelet arguments changed shape between v1beta3 (a map) and
// v1beta4 (a list); a control plane adds a KubeProxyConfiguration.
func TestMarshal(t *testing.T) {
	base := Join{APIServerEndpoint: "10.0.0.1:6443", Token: "abcdef.0123456789abcdef",
		CACertHashes: []string{"sha256:00"}, KubeletArgs: DefaultKubeletArgs()}
	tests := []struct {
		name      string
		version   string
		cp        *ControlPlane
		wantDocs  int
		wantInDoc []string
	}{
		{"v1beta3 worker", V1Beta3, nil, 1, []string{"kubeletExtraArgs:\n    address: 0.0.0.0\n", "node-ip: NODE_IP"}},
		{"v1beta4 worker", V1Beta4, nil, 1, []string{"- name: address\n    value: 0.0.0.0\n", "- name: node-ip\n    value: NODE_IP"}},
		{"v1beta4 control plane", V1Beta4, &ControlPlane{BindPort: 6443, CertificateKey: "ff", KubeProxyMode: "ipvs"}, 2,
			[]string{"advertiseAddress: NODE_IP", "bindPort: 6443", "certificateKey: ff", "kind: KubeProxyConfiguration", "mode: ipvs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := base
			j.APIVersion, j.ControlPlane = tt.version, tt.cp
			out, err := j.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s := string(out)
			if docs := strings.Split(s, "---\n"); len(docs) != tt.wantDocs {
				t.Errorf("%d documents, want %d:\n%s", len(docs), tt.wantDocs, s)
			}
			for _, w := range append(tt.wantInDoc, "apiVersion: "+tt.version, "skipPhases:\n- preflight", "directory: "+PatchesDir) {
				if !strings.Contains(s, w) {
					t.Errorf("missing %q in:\n%s", w, s)
				}
			}
			var first map[string]any
			if err := yaml.Unmarshal([]byte(strings.Split(s, "---\n")[0]), &first); err != nil || first["kind"] != "JoinConfiguration" {
				t.Errorf("first document: %v %v", first["kind"], err)
			}
		})
	}
	if _, err := (Join{APIVersion: "kubeadm.k8s.io/v1beta2"}).Marshal(); err == nil {
		t.Error("v1beta2 accepted")
	}
}

// The init configuration's shape per API version: kubelet arguments as a
// map or a list, taints only when none are wanted, the tokens, addons.
func TestInitMarshal(t *testing.T) {
	base := Init{CertificateKey: "ff", BindPort: 6444, ControlPlaneEndpoint: "192.0.2.100:6443", KubernetesVersion: "1.33.5",
		ImageRepository: "r.example.com/olcne", EtcdTag: "3.5.23", CoreDNSTag: "current", PodSubnet: "10.244.0.0/16",
		ServiceSubnet: "10.96.0.0/12", KubeletArgs: DefaultKubeletArgs()}
	tests := []struct {
		name       string
		edit       func(*Init)
		docs       int
		want, gone []string
	}{
		{"v1beta4, workers coming, ocne's skips", func(i *Init) { i.APIVersion, i.SkipAddons = V1Beta4, true }, 2,
			[]string{"- name: node-ip\n    value: NODE_IP", "- addon/kube-proxy", "- addon/coredns", "controlPlaneEndpoint: 192.0.2.100:6443",
				"bindPort: 6444", "certificateKey: ff", "imageTag: 3.5.23", "directory: /etc/ocne/ock/patches", "kind: ClusterConfiguration"},
			[]string{"taints", "bootstrapTokens", "KubeProxyConfiguration"}},
		{"v1beta3, alone, with tokens", func(i *Init) {
			i.APIVersion, i.Untainted = V1Beta3, true
			i.BootstrapTokens = []BootstrapToken{{Token: "abcdef.0123456789abcdef", TTL: 2 * time.Hour, Group: "system:bootstrappers:kubeadm:default-node-token"}}
			i.CipherSuites = "TLS_AES_128_GCM_SHA256"
		}, 3,
			[]string{"node-ip: NODE_IP", "taints: []", "token: abcdef.0123456789abcdef", "ttl: 2h0m0s", "- system:bootstrappers:kubeadm:default-node-token", "tls-cipher-suites: TLS_AES_128_GCM_SHA256",
				"cipher-suites: TLS_AES_128_GCM_SHA256", "kind: KubeProxyConfiguration", "mode: iptables"},
			[]string{"addon/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := base
			tt.edit(&i)
			out, err := i.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			s := string(out)
			if n := strings.Count(s, "---\n") + 1; n != tt.docs {
				t.Errorf("%d documents, want %d:\n%s", n, tt.docs, s)
			}
			for _, w := range tt.want {
				if !strings.Contains(s, w) {
					t.Errorf("lacks %q:\n%s", w, s)
				}
			}
			for _, g := range tt.gone {
				if strings.Contains(s, g) {
					t.Errorf("has %q:\n%s", g, s)
				}
			}
		})
	}
	if _, err := (Init{APIVersion: "kubeadm.k8s.io/v1beta2"}).Marshal(); err == nil {
		t.Error("v1beta2 accepted")
	}
}
