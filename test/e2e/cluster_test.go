package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ocne-image/ocne-image/shared/builderimage"
	"github.com/ocne-image/ocne-image/shared/clusterbuild"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/harness"
)

// testCluster is the real single-node cluster `make cluster-up` starts
// (test/cluster); `make test` passes its coordinates in the environment.
type testCluster struct {
	kubeconfig string
	registry   string // the registry as this host reaches it
	podReg     string // the same registry as pods reach it
	builder    string // the builder image, as pods pull it
	cfg        *rest.Config
	cs         kubernetes.Interface
}

func needCluster(t *testing.T) *testCluster {
	t.Helper()
	c := clusterOnly(t)
	// The builder image: the builder program beside this plugin (make
	// build puts it there), pushed where the node pulls from.
	c.builder = c.pushBuilderImage(t, pluginBinary(t), "ocne/builder:test", []string{builderimage.BinaryPath})
	return c
}

// pushBuilderImage runs the plugin binary bin's builder-image into the
// registry as repo (PATH:TAG), checks the image's entrypoint, and returns
// the image as pods pull it.
func (c *testCluster) pushBuilderImage(t *testing.T, bin, repo string, entrypoint []string) string {
	t.Helper()
	r := runPlugin(t, bin, t.TempDir(), nil, "builder-image", "--destination", "docker://"+c.registry+"/"+repo, "--tls-verify=false")
	if r.code != 0 {
		t.Fatalf("builder-image: %s", r.stderr)
	}
	// By digest: the node caches tags, and every run's binary differs.
	_, digest, ok := strings.Cut(strings.TrimSpace(r.stdout), "@")
	if !ok {
		t.Fatalf("builder-image printed %q, want REF@DIGEST", r.stdout)
	}
	ref := c.registry + "/" + strings.Split(repo, ":")[0] + "@" + digest
	var cfg imgspecv1.Image
	json.Unmarshal([]byte(harness.Run(t, "skopeo", "inspect", "--tls-verify=false", "--config", "docker://"+ref)), &cfg)
	if !slices.Equal(cfg.Config.Entrypoint, entrypoint) {
		t.Fatalf("builder image from %s runs %q, want %q", bin, cfg.Config.Entrypoint, entrypoint)
	}
	return c.podReg + "/" + strings.Split(repo, ":")[0] + "@" + digest
}

// clusterOnly is the test cluster without a builder image.
func clusterOnly(t *testing.T) *testCluster {
	t.Helper()
	kc := os.Getenv("OCNE_TEST_KUBECONFIG")
	if kc == "" {
		t.Skip("no test cluster: run through `make test` (it starts one with make cluster-up)")
	}
	c := &testCluster{kubeconfig: kc, registry: os.Getenv("OCNE_TEST_REGISTRY"), podReg: os.Getenv("OCNE_TEST_POD_REGISTRY")}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	c.cfg = cfg
	if c.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return c
}

// leftovers lists what the plugin created and should have deleted.
func (c *testCluster) leftovers(t *testing.T, ns string) []string {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=" + clusterbuild.ManagedBy}
	var left []string
	pods, err := c.cs.CoreV1().Pods(ns).List(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			left = append(left, "pod/"+p.Name)
		}
	}
	secrets, _ := c.cs.CoreV1().Secrets(ns).List(context.Background(), sel)
	for _, s := range secrets.Items {
		left = append(left, "secret/"+s.Name)
	}
	cms, _ := c.cs.CoreV1().ConfigMaps(ns).List(context.Background(), sel)
	for _, cm := range cms.Items {
		left = append(left, "configmap/"+cm.Name)
	}
	return left
}

// TestInClusterCreate is the full flow: the fixture OCK image and the
// builder image in the cluster's registry, `create` against the cluster,
// and the fetched result checked by libostree.
func TestInClusterCreate(t *testing.T) {
	c := needCluster(t)
	s := getSample(t)
	writeSampleImage(t, "docker://"+c.registry+"/olcne/ock-ostree:1.31", ostreeext.ExportOptions{Layers: 3})
	out := filepath.Join(t.TempDir(), "ock.tar")
	r := plugin(t, t.TempDir(), "create", "--type", "ostree", "--kubeconfig", c.kubeconfig, "--version", "1.31",
		"--builder-image", c.builder, "--os-registry", c.podReg+"/olcne/ock-ostree", "--tls-verify=false",
		"--output-file", out, "-o", "json")
	if r.code != 0 {
		t.Fatalf("create in the cluster: exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "No reachable cluster") {
		t.Fatalf("built locally: %s", r.stderr)
	}
	var res struct{ Commit string }
	json.Unmarshal([]byte(r.stdout), &res)
	if res.Commit != s.commit {
		t.Errorf("result %s, want commit %s", r.stdout, s.commit)
	}
	verifyArchive(t, out, s.commit)
	if left := c.leftovers(t, "ocne-system"); len(left) != 0 {
		t.Errorf("left in the cluster: %v", left)
	}

	t.Run("the plugin as the builder", func(t *testing.T) {
		// No builder program beside the plugin: builder-image packs the
		// plugin, whose hidden builder command the pod runs instead.
		alone := filepath.Join(t.TempDir(), "kubectl-ocne_image")
		copyFile(t, pluginBinary(t), alone)
		os.Chmod(alone, 0o755)
		image := c.pushBuilderImage(t, alone, "ocne/builder-plugin:test", []string{builderimage.PluginPath, "builder"})
		out := filepath.Join(t.TempDir(), "ock.tar")
		r := plugin(t, t.TempDir(), "create", "--kubeconfig", c.kubeconfig, "--version", "1.31", "--builder-image", image,
			"--os-registry", c.podReg+"/olcne/ock-ostree", "--tls-verify=false", "--output-file", out)
		if r.code != 0 {
			t.Fatalf("create with the plugin as the builder: exit %d: %s", r.code, r.stderr)
		}
		verifyArchive(t, out, s.commit)
	})
	t.Run("connection cut mid-transfer", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "ock.tar")
		r := plugin(t, t.TempDir(), "create", "--kubeconfig", c.kubeconfig, "--version", "1.31", "--builder-image", c.builder,
			"--os-registry", c.podReg+"/olcne/ock-ostree", "--tls-verify=false", "--output-file", out, "-v",
			"--builder-arg=--fault-cut-after=5000000")
		if r.code != 0 {
			t.Fatalf("create: exit %d: %s", r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "resuming") {
			t.Errorf("the transfer was not resumed: %s", r.stderr)
		}
		verifyArchive(t, out, s.commit)
	})
	t.Run("destination", func(t *testing.T) {
		dest := "docker://" + c.podReg + "/ock/archive:1.31"
		r := plugin(t, t.TempDir(), "create", "--kubeconfig", c.kubeconfig, "--version", "1.31", "--builder-image", c.builder,
			"--os-registry", c.podReg+"/olcne/ock-ostree", "--tls-verify=false", "--destination", dest, "--output-file", filepath.Join(t.TempDir(), "unused.tar"))
		if r.code != 0 {
			t.Fatalf("create --destination: exit %d: %s", r.code, r.stderr)
		}
		var info struct{ Labels map[string]string }
		json.Unmarshal([]byte(harness.Run(t, "skopeo", "inspect", "--tls-verify=false", "docker://"+c.registry+"/ock/archive:1.31")), &info)
		if info.Labels["ostree.commit"] != s.commit {
			t.Errorf("pushed image labels %v", info.Labels)
		}
	})
}

func TestInClusterFaults(t *testing.T) {
	c := needCluster(t)
	writeSampleImage(t, "docker://"+c.registry+"/olcne/ock-ostree:1.31", ostreeext.ExportOptions{})
	base := []string{"create", "--kubeconfig", c.kubeconfig, "--version", "1.31", "--os-registry", c.podReg + "/olcne/ock-ostree", "--tls-verify=false"}

	t.Run("builder image cannot be pulled", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "ock.tar")
		start := time.Now()
		r := plugin(t, t.TempDir(), append(base, "--builder-image", c.podReg+"/ocne/no-such-builder:1", "--start-timeout", "90s", "--output-file", out)...)
		if r.code != 1 || !strings.Contains(r.stderr, "ErrImagePull") && !strings.Contains(r.stderr, "ImagePullBackOff") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		if time.Since(start) > 100*time.Second {
			t.Errorf("took %s", time.Since(start))
		}
		assertNothingLeft(t, out)
		if left := c.leftovers(t, "ocne-system"); len(left) != 0 {
			t.Errorf("left in the cluster: %v", left)
		}
	})
	t.Run("bad source image", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "ock.tar")
		r := plugin(t, t.TempDir(), append(base, "--builder-image", c.builder, "--os-tag", "9.99", "--output-file", out)...)
		if r.code != 1 || !strings.Contains(r.stderr, "build failed in pod") || !strings.Contains(r.stderr, "9.99") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		assertNothingLeft(t, out)
	})
	t.Run("file source", func(t *testing.T) {
		// No pod can read a file of this machine: it is built here, and
		// the reference is used as given, with no default tag appended.
		out := filepath.Join(t.TempDir(), "ock.tar")
		r := plugin(t, t.TempDir(), "create", "--kubeconfig", c.kubeconfig, "--version", "1.31", "--builder-image", c.builder,
			"--os-registry", "oci-archive:/nonexistent/ock.tar", "--output-file", out)
		if r.code == 0 || !strings.Contains(r.stderr, "oci-archive:/nonexistent/ock.tar is a file on this machine: building here\n") ||
			!strings.Contains(r.stderr, "/nonexistent/ock.tar") || strings.Contains(r.stderr, "build failed in pod") || strings.Contains(r.stderr, "ock.tar:1.31") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		assertNothingLeft(t, out)
	})
	t.Run("builder pod deleted mid-build", func(t *testing.T) {
		// Pods reach this host through the pod network's gateway.
		gw, _, _ := strings.Cut(c.podReg, ":")
		slow, _ := slowProxy(t, c.registry, gw)
		out := filepath.Join(t.TempDir(), "ock.tar")
		cmd := exec.Command(pluginBinary(t), "create", "--kubeconfig", c.kubeconfig, "--version", "1.31", "--tls-verify=false",
			"--os-registry", slow+"/olcne/ock-ostree", "--builder-image", c.builder, "--output-file", out)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "KUBECONFIG=")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		var left []string
		for time.Now().Before(deadline) {
			if left = c.leftovers(t, "ocne-system"); len(left) > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // let it start pulling
		for _, l := range left {
			c.cs.CoreV1().Pods("ocne-system").Delete(context.Background(), strings.TrimPrefix(l, "pod/"), metav1.DeleteOptions{})
		}
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 ||
			!strings.Contains(stderr.String(), "deleted") {
			t.Errorf("exit %v, stderr %q", err, stderr.String())
		}
		t.Logf("stderr: %s", stderr.String())
		assertNothingLeft(t, out)
	})
	t.Run("interrupted", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "ock.tar")
		cmd := exec.Command(pluginBinary(t), append(base, "--builder-image", c.builder, "--output-file", out)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Interrupt once the pod exists.
		deadline := time.Now().Add(60 * time.Second)
		for len(c.leftovers(t, "ocne-system")) == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		if !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("stderr: %q", stderr.String())
		}
		assertNothingLeft(t, out)
		if left := c.leftovers(t, "ocne-system"); len(left) != 0 {
			t.Errorf("left in the cluster after Ctrl-C: %v", left)
		}
	})
}

// TestInClusterForbidden runs create as a user who may do nothing: the
// error must name the verb and resource, and nothing may be left.
func TestInClusterForbidden(t *testing.T) {
	c := needCluster(t)
	ctx := context.Background()
	ns := "ocne-forbidden-test"
	if _, err := c.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer c.cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if _, err := c.cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "nobody", &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A kubeconfig with only the token: beside the admin's client
	// certificate a token would not be the identity used.
	raw, err := clientcmd.LoadFromFile(c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range raw.AuthInfos {
		a.ClientCertificate, a.ClientKey, a.ClientCertificateData, a.ClientKeyData = "", "", nil, nil
		a.Token = tok.Status.Token
	}
	nobody := filepath.Join(t.TempDir(), "nobody.conf")
	if err := clientcmd.WriteToFile(*raw, nobody); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "ock.tar")
	r := plugin(t, t.TempDir(), "create", "--kubeconfig", nobody, "-n", ns,
		"--version", "1.31", "--builder-image", c.builder, "--os-registry", c.podReg+"/olcne/ock-ostree", "--tls-verify=false", "--output-file", out)
	if r.code != 1 || !strings.Contains(r.stderr, "not allowed to create pods") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	assertNothingLeft(t, out)
	if left := c.leftovers(t, ns); len(left) != 0 {
		t.Errorf("left in the cluster: %v", left)
	}
}

// TestInClusterRegistryAuth: the OCK image sits in a registry that wants
// credentials; --authfile hands them to the builder pod as a Secret,
// which is deleted afterwards.
func TestInClusterRegistryAuth(t *testing.T) {
	c := needCluster(t)
	s := getSample(t)
	gw, _, _ := strings.Cut(c.podReg, ":")
	reg := harness.StartRegistryWith(t, harness.RegistryOptions{Host: gw, User: "ocne", Password: "s3cret"})
	auth := filepath.Join(t.TempDir(), "auth.json")
	creds := base64.StdEncoding.EncodeToString([]byte("ocne:s3cret"))
	os.WriteFile(auth, []byte(`{"auths":{"`+reg+`":{"auth":"`+creds+`"}}}`), 0o600)
	b := encapsulateSample(t, ostreeext.ExportOptions{})
	defer b.RemoveLayerFiles()
	ref, _ := containerimage.ParseReference("docker://" + reg + "/olcne/ock-ostree:1.31")
	if _, err := containerimage.Write(context.Background(), ref, []ociarchive.Build{b}, containerimage.Options{AuthFile: auth}); err != nil {
		t.Fatal(err)
	}
	base := []string{"create", "--kubeconfig", c.kubeconfig, "--version", "1.31", "--builder-image", c.builder,
		"--os-registry", reg + "/olcne/ock-ostree", "--tls-verify=false"}

	out := filepath.Join(t.TempDir(), "ock.tar")
	r := plugin(t, t.TempDir(), append(base, "--output-file", out)...)
	if r.code != 1 || !strings.Contains(strings.ToLower(r.stderr), "auth") {
		t.Errorf("without credentials: exit %d: %s", r.code, r.stderr)
	}
	r = plugin(t, t.TempDir(), append(base, "--output-file", out, "--authfile", auth, "-o", "json")...)
	if r.code != 0 || !strings.Contains(r.stdout, s.commit) {
		t.Fatalf("with credentials: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if left := c.leftovers(t, "ocne-system"); len(left) != 0 {
		t.Errorf("left in the cluster: %v", left)
	}
}

// TestInClusterRegistryMirror: the OCK image is asked for by a name whose
// registry does not exist (registry.invalid, never resolved); a
// registries.conf mirror, handed to the pod as a ConfigMap, serves it.
func TestInClusterRegistryMirror(t *testing.T) {
	c := needCluster(t)
	s := getSample(t)
	writeSampleImage(t, "docker://"+c.registry+"/mirror/olcne/ock-ostree:1.31", ostreeext.ExportOptions{})
	conf := writeMirrorConf(t, "registry.invalid/olcne", c.podReg+"/mirror/olcne")
	out := filepath.Join(t.TempDir(), "ock.tar")
	// No --tls-verify=false: the mirror's own `insecure` is what allows HTTP.
	r := plugin(t, t.TempDir(), "create", "--kubeconfig", c.kubeconfig, "--version", "1.31", "--builder-image", c.builder,
		"--os-registry", "registry.invalid/olcne/ock-ostree", "--registries-conf", conf, "--output-file", out, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, s.commit) {
		t.Fatalf("create through the mirror: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "No reachable cluster") {
		t.Fatalf("built locally: %s", r.stderr)
	}
	if left := c.leftovers(t, "ocne-system"); len(left) != 0 {
		t.Errorf("left in the cluster: %v", left)
	}
}

// writeMirrorConf writes a registries.conf(5) that pulls prefix from an
// insecure (plain-HTTP) mirror.
func writeMirrorConf(t *testing.T, prefix, mirror string) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "registries.conf")
	body := "[[registry]]\nprefix = \"" + prefix + "\"\nlocation = \"" + prefix + "\"\n" +
		"[[registry.mirror]]\nlocation = \"" + mirror + "\"\ninsecure = true\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}
