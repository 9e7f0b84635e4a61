package kubeadm

import (
	"strings"
	"testing"

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
