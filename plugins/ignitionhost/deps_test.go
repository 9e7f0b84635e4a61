package ignitionhost

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSDKStaysLight: a plugin author's build must not pull Kubernetes,
// Podman or container-image code through the SDK.
func TestSDKStaysLight(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./", "./ledger").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{"k8s.io/", "github.com/containers/", "go.podman.io/", "github.com/ocne-image/ocne-image/shared/"} {
			if strings.HasPrefix(dep, heavy) {
				t.Errorf("the SDK depends on %s", dep)
			}
		}
	}
}
