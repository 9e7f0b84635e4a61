// Package depcheck holds the dependency budgets: what each layer may link,
// checked with `go list -deps` (as go-containerregistry's depcheck tests
// do), so that a plugin author's build or the archive server does not
// quietly grow Kubernetes or container-image code through one import.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ocne-image/ocne-image/"

// heavy is what a plugin author must not link through the SDK: the
// Kubernetes client libraries and the container-image stack (both its
// import paths).
var heavy = []string{"k8s.io/", "sigs.k8s.io/", "go.podman.io/", "github.com/containers/"}

func TestDependencyBudgets(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the budgets run go list; make lint runs them")
	}
	for _, tc := range []struct {
		pkgs string
		// deny: no dependency may start with one of these.
		deny []string
		// only: if set, every non-standard dependency outside this
		// module must start with one of these.
		only []string
		// leaf: the standard library only, not even this module's other
		// packages.
		leaf bool
	}{
		{pkgs: "./plugins/...", deny: heavy},
		{pkgs: "./plugins/conformance", deny: heavy},
		// The SDK itself: not even this repository's shared/ packages.
		{pkgs: "./plugins/ignitionhost/...", deny: append([]string{module + "shared/"}, heavy...)},
		{pkgs: "./shared/ostree", only: []string{"golang.org/x/sys/"}},
		{pkgs: "./shared/archiveserver", only: []string{"golang.org/x/sys/"}},
		{pkgs: "./shared/serverimage/archive-server", only: []string{"golang.org/x/sys/"}},
		// Both ends of the builder pod's protocol link it: the pod without
		// the cluster clients, create's cluster side without the pipeline.
		{pkgs: "./shared/builder/wire", leaf: true},
		// The builder pod needs no cluster client: that is what halves
		// the builder image.
		{pkgs: "./kubectl-ocne/builder", deny: []string{"k8s.io/client-go/", "k8s.io/cli-runtime/"}},
	} {
		t.Run(tc.pkgs, func(t *testing.T) {
			self := module + strings.TrimPrefix(tc.pkgs, "./")
			for _, dep := range nonStandardDeps(t, tc.pkgs) {
				if tc.leaf && dep != self {
					t.Errorf("%s depends on %s: only the standard library is allowed", tc.pkgs, dep)
				}
				if hasPrefix(dep, tc.deny) {
					t.Errorf("%s depends on %s, which its budget denies", tc.pkgs, dep)
				}
				if tc.only != nil && !strings.HasPrefix(dep, module) && !hasPrefix(dep, tc.only) {
					t.Errorf("%s depends on %s: only the standard library and %s are allowed", tc.pkgs, dep, strings.Join(tc.only, ", "))
				}
			}
		})
	}
}

// nonStandardDeps lists what pkgs link outside the standard library, with
// the build tags of the Makefile (GOFLAGS is inherited).
func nonStandardDeps(t *testing.T, pkgs string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkgs)
	cmd.Dir = "../.." // the module root: the patterns are relative to it
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkgs, err)
	}
	return strings.Fields(string(out))
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
