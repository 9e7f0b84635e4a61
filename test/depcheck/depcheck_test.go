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

// commandLine is the command layer: cobra and pflag, kubectl's flags and
// shared/cli, which only the commands import. The domain packages return
// typed errors and take small interfaces instead.
var commandLine = []string{"github.com/spf13/cobra", "github.com/spf13/pflag",
	"k8s.io/cli-runtime/pkg/genericclioptions", module + "shared/cli"}

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
		// imports: no package of pkgs but those under except may import
		// one of these (or a package under one) itself. Its own imports,
		// not everything it links: client-go itself imports pflag.
		imports []string
		except  string
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
		// What only writes images (the server image, the builder image,
		// ostree-ext export) needs no containers/image: the image-spec
		// types and the compressors.
		{pkgs: "./shared/ociarchive", deny: heavy, only: []string{"github.com/opencontainers/", "github.com/klauspost/compress"}},
		// create's cluster side runs and follows the pod: it reads no image.
		{pkgs: "./shared/clusterbuild", deny: []string{"go.podman.io/", "github.com/containers/"}},
		// The builder pod needs no cluster client: that is what halves
		// the builder image.
		{pkgs: "./kubectl-ocne/builder", deny: []string{"k8s.io/client-go/", "k8s.io/cli-runtime/"}},
		// podman-ocne talks to no cluster: kubectl's flags stay in
		// shared/cli/kubeflags.
		{pkgs: "./podman-helper", deny: []string{"k8s.io/client-go/", "k8s.io/cli-runtime/pkg/genericclioptions"}},
		// Command-line code stays out of the domain packages.
		{pkgs: "./shared/...", imports: commandLine, except: module + "shared/cli"},
	} {
		t.Run(tc.pkgs, func(t *testing.T) {
			if tc.imports != nil {
				for pkg, imports := range packageImports(t, tc.pkgs) {
					if underAny(pkg, []string{tc.except}) {
						continue
					}
					for _, imp := range imports {
						if underAny(imp, tc.imports) {
							t.Errorf("%s imports %s: command-line code belongs in %s", pkg, imp, tc.except)
						}
					}
				}
				return
			}
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

// packageImports maps each package of pkgs to what it imports itself.
func packageImports(t *testing.T, pkgs string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pkgs)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkgs, err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[f[0]] = f[1:]
	}
	return m
}

// underAny reports whether path is one of roots or inside one.
func underAny(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+"/") {
			return true
		}
	}
	return false
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
