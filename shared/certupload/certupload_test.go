package certupload

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/ocne-image/ocne-image/shared/kube"
)

// The key must never appear in the pod spec (anyone who can list pods
// could read it); it comes from the Secret.
func TestPodKeepsKeyOut(t *testing.T) {
	key, err := NewKey()
	if err != nil || len(key) != 64 {
		t.Fatalf("key %q, %v", key, err)
	}
	for _, node := range []string{"", "cp-1"} {
		p := Options{Key: key, Image: "img", Kubeadm: DefaultKubeadm, KubernetesDir: DefaultKubernetesDir, Node: node}.pod("s", nil)
		b, _ := json.Marshal(p)
		if strings.Contains(string(b), key) {
			t.Error("the certificate key is in the pod spec")
		}
		c := p.Spec.Containers[0]
		if !strings.Contains(strings.Join(c.Args, " "), "--certificate-key $(CERTIFICATE_KEY)") || c.Env[0].ValueFrom.SecretKeyRef.Name != "s" {
			t.Errorf("args %v env %+v", c.Args, c.Env)
		}
		cp := corev1.Taint{Key: kube.ControlPlaneRole, Effect: corev1.TaintEffectNoSchedule}
		if !slices.ContainsFunc(p.Spec.Tolerations, func(tol corev1.Toleration) bool { return tol.ToleratesTaint(klog.Background(), &cp, false) }) {
			t.Errorf("the control-plane taint is not tolerated: %v", p.Spec.Tolerations)
		}
		if (node == "") != (p.Spec.NodeSelector != nil) || p.Spec.NodeName != node {
			t.Errorf("node %q: selector %v name %q", node, p.Spec.NodeSelector, p.Spec.NodeName)
		}
	}
}
