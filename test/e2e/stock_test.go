package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/ocne-image/ocne-image/shared/builderimage"
	"github.com/ocne-image/ocne-image/shared/clusterbuild"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/harness"
)

// TestInClusterStock is create as a user of a stock cluster runs it: no
// --builder-image (the default reference, which the test cluster's
// containerd mirrors from the test registry, as an air-gapped site would
// after `builder-image --registry`), only control-plane nodes (tainted),
// and a site proxy in the config file that the builder's pull goes through.
func TestInClusterStock(t *testing.T) {
	c := clusterOnly(t)
	s := getSample(t)
	writeSampleImage(t, "docker://"+c.registry+"/olcne/ock-ostree:1.31", ostreeext.ExportOptions{})
	r := plugin(t, t.TempDir(), "builder-image", "--registry", c.registry, "--tls-verify=false")
	ref, _, ok := strings.Cut(strings.TrimSpace(r.stdout), "@")
	if r.code != 0 || !ok || !strings.HasPrefix(ref, "docker://"+c.registry+"/"+builderimage.Repository+":") {
		t.Fatalf("builder-image --registry: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	wantImage := builderimage.Registry + strings.TrimPrefix(ref, "docker://"+c.registry)

	gw, _, _ := strings.Cut(c.podReg, ":")
	proxy := harness.StartProxy(t, gw)
	home := t.TempDir()
	cfg := filepath.Join(home, "cluster.yaml")
	os.WriteFile(cfg, []byte("proxy:\n  httpProxy: "+proxy.URL+"\n  httpsProxy: "+proxy.URL+"\n  noProxy: registry.invalid\n"), 0o644)
	ns := newNamespace(t, c, "ocne-stock")

	untaint := c.taintControlPlane(t)
	pods := c.watchBuilder(t, ns, untaint)
	r = plugin(t, home, "create", "--kubeconfig", c.kubeconfig, "-n", ns, "--config", cfg, "--version", "1.31",
		"--os-registry", c.podReg+"/olcne/ock-ostree", "--tls-verify=false", "--output-file", filepath.Join(t.TempDir(), "ock.tar"),
		"-o", "json", "--start-timeout", "2m")
	untaint()
	if r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	var res struct{ Commit string }
	json.Unmarshal([]byte(r.stdout), &res)
	if res.Commit != s.commit {
		t.Errorf("result %s, want commit %s", r.stdout, s.commit)
	}
	var pod *corev1.Pod
	select {
	case pod = <-pods:
	case <-time.After(5 * time.Second):
	}
	if pod == nil {
		t.Fatal("no builder pod was seen scheduled")
	}
	if got := pod.Spec.Containers[0].Image; got != wantImage {
		t.Errorf("builder image %s, want the default %s", got, wantImage)
	}
	env := map[string]string{}
	for _, e := range pod.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	for _, name := range []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"} {
		if env[name] != proxy.URL {
			t.Errorf("%s=%q, want %q", name, env[name], proxy.URL)
		}
	}
	for _, name := range []string{"NO_PROXY", "no_proxy"} {
		for _, want := range []string{"registry.invalid", ".svc", ".cluster.local"} {
			if !slices.Contains(strings.Split(env[name], ","), want) {
				t.Errorf("%s=%q lacks %s", name, env[name], want)
			}
		}
	}
	t.Logf("the proxy saw %d requests, the first %q", len(proxy.Requests()), proxy.Requests()[:min(3, len(proxy.Requests()))])
	if !slices.ContainsFunc(proxy.Requests(), func(req string) bool {
		return strings.HasPrefix(req, "GET "+c.podReg+"/v2/olcne/ock-ostree/manifests/1.31")
	}) {
		t.Errorf("the builder's pull did not go through the proxy; it saw %q", proxy.Requests())
	}
	if left := c.leftovers(t, ns); len(left) != 0 {
		t.Errorf("left in the cluster: %v", left)
	}

	t.Run("builder image cannot be pulled", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "ock.tar")
		// Under the default registry, which the node pulls from the test
		// registry only: nothing leaves this machine.
		image := builderimage.In(builderimage.Registry, "no-such-version")
		r := plugin(t, t.TempDir(), "create", "--kubeconfig", c.kubeconfig, "-n", ns, "--version", "1.31", "--builder-image", image,
			"--os-registry", c.podReg+"/olcne/ock-ostree", "--tls-verify=false", "--start-timeout", "90s", "--output-file", out)
		msg := strings.TrimSpace(r.stderr)
		t.Logf("stderr: %s", msg)
		for _, want := range []string{"builder image " + image + " cannot be pulled", "kubectl ocne-image builder-image --registry REGISTRY",
			"--builder-image REGISTRY/" + builderimage.Repository + ":"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q: %s", want, msg)
			}
		}
		if r.code != 1 || strings.Contains(msg, "\n") {
			t.Errorf("exit %d, want 1 and one line: %q", r.code, msg)
		}
		assertNothingLeft(t, out)
		if left := c.leftovers(t, ns); len(left) != 0 {
			t.Errorf("left in the cluster: %v", left)
		}
	})
}

// taintControlPlane puts kubeadm's control-plane taint on every node (the
// test cluster has one) and returns what takes it off again, which also
// runs at cleanup: other tests share the node.
func (c *testCluster) taintControlPlane(t *testing.T) func() {
	t.Helper()
	taint := corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}
	nodes, err := c.cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edit := func(name string, change func([]corev1.Taint) []corev1.Taint) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := c.cs.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Spec.Taints = change(n.Spec.Taints)
			_, err = c.cs.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{})
			return err
		})
	}
	var once sync.Once
	untaint := func() {
		once.Do(func() {
			for _, n := range nodes.Items {
				err := edit(n.Name, func(ts []corev1.Taint) []corev1.Taint {
					return slices.DeleteFunc(ts, func(x corev1.Taint) bool { return x.MatchTaint(&taint) })
				})
				if err != nil {
					t.Errorf("REMOVE THE TAINT BY HAND: kubectl taint node %s %s:%s-: %v", n.Name, taint.Key, taint.Effect, err)
				}
			}
		})
	}
	t.Cleanup(untaint)
	for _, n := range nodes.Items {
		if slices.ContainsFunc(n.Spec.Taints, func(x corev1.Taint) bool { return x.MatchTaint(&taint) }) {
			continue // someone else's: leave it to them
		}
		if err := edit(n.Name, func(ts []corev1.Taint) []corev1.Taint { return append(ts, taint) }); err != nil {
			t.Fatal(err)
		}
	}
	return untaint
}

// watchBuilder sends the first builder pod in ns that the scheduler has
// placed (nil if none within the start timeout), calling scheduled then:
// the taint may go as soon as the pod is on the node.
func (c *testCluster) watchBuilder(t *testing.T, ns string, scheduled func()) <-chan *corev1.Pod {
	found := make(chan *corev1.Pod, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	go func() {
		defer close(found)
		sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=" + clusterbuild.ManagedBy}
		for ctx.Err() == nil {
			pods, err := c.cs.CoreV1().Pods(ns).List(ctx, sel)
			if err == nil {
				for _, p := range pods.Items {
					if p.Spec.NodeName != "" {
						scheduled()
						found <- &p
						return
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return found
}

// TestBuilderImageBadInput: what builder-image refuses, in one line with
// exit 2, before it builds anything.
func TestBuilderImageBadInput(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing to do", nil, "pass one of --registry, --destination and --output-file"},
		{"two targets", []string{"--registry", "127.0.0.1:1", "--output-file", "b.tar"}, "pass one of"},
		{"registry with a transport", []string{"--registry", "docker://registry.example.com"}, "no transport"},
		{"registry not a host", []string{"--registry", "UPPER CASE"}, "--registry"},
		{"destination without a transport", []string{"--destination", "registry.example.com/b:1"}, "--destination"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := plugin(t, t.TempDir(), append([]string{"builder-image"}, tt.args...)...)
			msg := strings.TrimSpace(r.stderr)
			if r.code != 2 || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("exit %d, want 2 and one line with %q: %q", r.code, tt.want, msg)
			}
		})
	}
}
