package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/test/harness"
)

// upstreamBase is the commit the upstream-made derived image is built on;
// it is bound to ref exampleos.
const upstreamBase = "3cb6170b6945065c2475bc16d7bebcc84f96b4c677811a6751e479b89f8c3770"

// TestCreateDerivedUpstream is what a user gets from a derived image the
// real ostree-ext made: create makes a merged commit served under the base
// commit's bound ref, podman-ocne serves it with a Kickstart for that ref,
// and libostree pulls it with its default checks.
func TestCreateDerivedUpstream(t *testing.T) {
	src := filepath.Join(harness.RepoRoot(t), "shared", "containerimage", "testdata", "exampleos-derive.ociarchive")
	out, tmp := filepath.Join(t.TempDir(), "ock.tar"), t.TempDir()
	r := pluginEnv(t, t.TempDir(), []string{"TMPDIR=" + tmp}, "create", "--local", "--version", "1.31",
		"--os-registry", "oci-archive:"+src, "--output-file", out, "-o", "json")
	if r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	var res struct{ Commit, Ref string }
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("create -o json: %v\n%s", err, r.stdout)
	}
	if res.Ref != "exampleos" || res.Commit == upstreamBase || !strings.Contains(r.stderr, `merged into commit `+res.Commit) {
		t.Fatalf("create served %s as %q (stderr %q); want a merged commit as exampleos", res.Commit, res.Ref, r.stderr)
	}
	assertEmpty(t, tmp)

	p := harness.NewPodman(t)
	url, home := p.Service(), t.TempDir()
	if r := helper(t, home, url, "load", "--file", out); r.code != 0 {
		t.Fatalf("load: exit %d: %s", r.code, r.stderr)
	}
	port := harness.FreePort(t)
	r = helper(t, home, url, "serve", "--name", "ock-e2e-derived", "--port", strconv.Itoa(port),
		"--advertise-address", "127.0.0.1", "--kickstart", "auto", "--output", "json")
	if r.code != 0 {
		t.Fatalf("serve: exit %d: %s", r.code, r.stderr)
	}
	defer helper(t, home, url, "stop", "--name", "ock-e2e-derived")
	site := decodeSite(t, r).Site
	if site.Ref != "exampleos" || site.Commit != res.Commit {
		t.Errorf("serve printed %+v, want commit %s as ref exampleos", site, res.Commit)
	}
	if got := ostreePull(t, site.OSTreeURL, site.Ref); got != res.Commit {
		t.Errorf("pulled %s, want %s", got, res.Commit)
	}
	ks := strings.Split(get(t, site.KickstartURL, http.StatusOK), "\n")
	if want := "ostreesetup --nogpg --osname ock --url " + site.OSTreeURL + " --ref exampleos"; !slices.Contains(ks, want) {
		t.Errorf("served Kickstart lacks %q:\n%s", want, strings.Join(ks, "\n"))
	}
}

// TestInClusterCreateDerived: the builder pod, given no --ref, serves the
// upstream derived image's merged commit under the base commit's bound ref.
func TestInClusterCreateDerived(t *testing.T) {
	c := needCluster(t)
	src := filepath.Join(harness.RepoRoot(t), "shared", "containerimage", "testdata", "exampleos-derive.ociarchive")
	harness.Run(t, "skopeo", "copy", "-q", "--dest-tls-verify=false", "oci-archive:"+src, "docker://"+c.registry+"/derived-e2e/exampleos:1.31")
	out := filepath.Join(t.TempDir(), "ock.tar")
	ns := newNamespace(t, c, "ocne-derived")
	r := plugin(t, t.TempDir(), "create", "--kubeconfig", c.kubeconfig, "-n", ns, "--version", "1.31",
		"--builder-image", c.builder, "--os-registry", c.podReg+"/derived-e2e/exampleos", "--tls-verify=false",
		"--output-file", out, "-o", "json")
	if r.code != 0 || strings.Contains(r.stderr, "No reachable cluster") {
		t.Fatalf("create in the cluster: exit %d: %s", r.code, r.stderr)
	}
	var res struct{ Commit, Ref string }
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("create -o json: %v\n%s", err, r.stdout)
	}
	if res.Ref != "exampleos" || res.Commit == upstreamBase {
		t.Fatalf("served %s as %q, want a merged commit as exampleos", res.Commit, res.Ref)
	}
	verifyArchiveRef(t, out, res.Ref, res.Commit)
	if left := c.leftovers(t, ns); len(left) != 0 {
		t.Errorf("left in the cluster: %v", left)
	}
}
