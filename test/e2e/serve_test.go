package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ocne-image/ocne-image/plugins/conformance"
	"github.com/ocne-image/ocne-image/shared/clusterserve"
	"github.com/ocne-image/ocne-image/shared/jointoken"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/harness"
)

// serveResult is what `serve -o json` prints.
type serveResult struct {
	BaseURL   string
	OSTreeURL string
	Kickstart []string
	Ignition  []string
}

// serverImage builds the sample's archive server image and pushes it to
// the cluster's registry; it returns the reference pods pull, by digest
// (the node caches tags, and every build of the server differs).
func serverImage(t *testing.T, c *testCluster, repo string) string {
	t.Helper()
	layout := t.TempDir()
	writeSampleImage(t, "oci:"+layout+":1.31", ostreeext.ExportOptions{})
	dest := "docker://" + c.registry + "/" + repo + ":1.31"
	r := plugin(t, t.TempDir(), "create", "--local", "--version", "1.31", "--os-registry", "oci:"+layout,
		"--output-file", filepath.Join(t.TempDir(), "ock.tar"), "--destination", dest, "--tls-verify=false")
	if r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	digest := harness.Run(t, "skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", dest)
	return c.podReg + "/" + repo + "@" + digest
}

// serve runs `serve` in ns and decodes its JSON.
func serve(t *testing.T, c *testCluster, ns string, args ...string) (serveResult, result) {
	t.Helper()
	r := plugin(t, t.TempDir(), append([]string{"serve", "--kubeconfig", c.kubeconfig, "-n", ns, "-o", "json", "--timeout", "2m"}, args...)...)
	var res serveResult
	if r.code == 0 {
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("serve printed %q: %v", r.stdout, err)
		}
	}
	return res, r
}

// served lists what serve made in ns and what still runs there.
func (c *testCluster) served(t *testing.T, ns string) []string {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: clusterserve.LabelManagedBy + "=ocne-image"}
	var left []string
	if l, err := c.cs.AppsV1().Deployments(ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			left = append(left, "deployment/"+o.Name)
		}
	}
	if l, err := c.cs.CoreV1().Services(ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			left = append(left, "service/"+o.Name)
		}
	}
	if l, err := c.cs.CoreV1().ConfigMaps(ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			left = append(left, "configmap/"+o.Name)
		}
	}
	if l, err := c.cs.CoreV1().Secrets(ns).List(ctx, sel); err == nil {
		for _, o := range l.Items {
			left = append(left, "secret/"+o.Name)
		}
	}
	return left
}

func (c *testCluster) readyPods(t *testing.T, ns string) int {
	t.Helper()
	pods, err := c.cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: clusterserve.LabelInstance + "=ock-ostree"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Ready && p.DeletionTimestamp == nil {
				n++
			}
		}
	}
	return n
}

func newNamespace(t *testing.T, c *testCluster, prefix string) string {
	t.Helper()
	ns := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e6)
	t.Cleanup(func() { c.cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	return ns
}

// pullAndCheck has libostree pull the ref through url and fsck it.
func pullAndCheck(t *testing.T, url, commit string) {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	harness.Run(t, "ostree", "--repo="+repo, "init", "--mode=bare-user")
	harness.Run(t, "ostree", "--repo="+repo, "remote", "add", "--no-gpg-verify", "ock", url)
	// The pods rebuild the static delta's parts (into their /tmp
	// emptyDir): libostree says it pulled delta parts.
	if out := harness.Run(t, "ostree", "--repo="+repo, "pull", "ock", "ock"); !strings.Contains(out, "delta parts") {
		t.Errorf("the pull used no static delta: %s", out)
	}
	if got := harness.Run(t, "ostree", "--repo="+repo, "rev-parse", "ock:ock"); got != commit {
		t.Errorf("pulled commit %s, want %s", got, commit)
	}
	harness.Run(t, "ostree", "--repo="+repo, "fsck")
}

// eventually polls url until its body is want: a rollout is done when the
// new pods are ready, and kube-proxy follows within a moment.
func eventually(t *testing.T, url, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got = getBody(url); got == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("GET %s = %q, want %q", url, got, want)
}

// TestInClusterServe: serve on the real cluster, libostree pulls through
// the NodePort from this host, the Kickstart and Ignition files are served,
// scaling and a changed Kickstart apply in place, --delete leaves nothing.
func TestInClusterServe(t *testing.T) {
	c := clusterOnly(t)
	s := getSample(t)
	image := serverImage(t, c, "serve/ock-ostree")
	ns := newNamespace(t, c, "ocne-serve")
	dir := t.TempDir()
	ks, ign := filepath.Join(dir, "site.ks"), filepath.Join(dir, "worker.ign")
	os.WriteFile(ks, []byte("ostreesetup --nogpg --osname=ock --ref=ock --url=URL\n"), 0o644)
	os.WriteFile(ign, []byte(`{"ignition":{"version":"3.4.0"}}`), 0o600)

	res, r := serve(t, c, ns, "--image", image, "--kickstart", ks, "--ignition", ign)
	if r.code != 0 {
		t.Fatalf("serve: exit %d: %s", r.code, r.stderr)
	}
	if n := c.readyPods(t, ns); n != 2 {
		t.Errorf("%d ready pods, want 2", n)
	}
	pullAndCheck(t, res.OSTreeURL, s.commit)
	if len(res.Kickstart) != 1 || len(res.Ignition) != 1 {
		t.Fatalf("URLs: %+v", res)
	}
	if got := get(t, res.Kickstart[0], 200); !strings.HasPrefix(got, "ostreesetup") {
		t.Errorf("Kickstart: %q", got)
	}
	if got := get(t, res.Ignition[0], 200); !strings.Contains(got, "3.4.0") {
		t.Errorf("Ignition: %q", got)
	}

	t.Run("generated Kickstart", func(t *testing.T) {
		res2, r := serve(t, c, ns, "--image", image, "--kickstart", "auto", "--kickstart", ks, "--ignition", ign)
		if r.code != 0 {
			t.Fatalf("serve --kickstart auto: exit %d: %s", r.code, r.stderr)
		}
		if len(res2.Kickstart) != 2 {
			t.Fatalf("Kickstart URLs: %v", res2.Kickstart)
		}
		url := res2.BaseURL + "/ks/ock.ks"
		var got string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if got = getBody(url); strings.Contains(got, "ostreesetup") {
				break
			}
		}
		for _, want := range []string{
			"ostreesetup --nogpg --osname ock --url " + res2.OSTreeURL + " --ref ock",
			"ignition.config.url=" + res2.BaseURL + "/ignition/worker.ign",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("generated Kickstart lacks %q:\n%s", want, got)
			}
		}
	})

	t.Run("scale and update in place", func(t *testing.T) {
		os.WriteFile(ks, []byte("# changed\n"), 0o644)
		res2, r := serve(t, c, ns, "--image", image, "--kickstart", ks, "--ignition", ign, "--replicas", "3")
		if r.code != 0 {
			t.Fatalf("serve again: exit %d: %s", r.code, r.stderr)
		}
		if res2.BaseURL != res.BaseURL {
			t.Errorf("the URL moved: %s -> %s", res.BaseURL, res2.BaseURL)
		}
		if n := c.readyPods(t, ns); n != 3 {
			t.Errorf("%d ready pods, want 3", n)
		}
		eventually(t, res2.Kickstart[0], "# changed\n")
	})

	// A replica that goes away as `kubectl delete pod`, a rollout or a
	// drain make it go: the pull in progress sees no error at all.
	t.Run("a replica deleted during a pull", func(t *testing.T) {
		pod := c.servingPods(t, ns)[0]
		// Through a slow link, so the deletion lands mid-transfer.
		slow := "http://" + slowLink(t, strings.TrimPrefix(res.BaseURL, "http://"), 8<<20) + "/ostree"
		repo := pullDuring(t, slow, func() {
			time.Sleep(time.Second)
			c.cs.CoreV1().Pods(ns).Delete(context.Background(), pod.Name, metav1.DeleteOptions{})
		})
		checkPulled(t, repo, s.commit)
	})

	// A replica that crashes (its server SIGKILLed): libostree does not
	// retry a response cut off mid-body, so the pull may fail; pulling
	// again resumes and completes against the replicas left.
	t.Run("a replica crashing during a pull", func(t *testing.T) {
		pods := c.servingPods(t, ns)
		slow := "http://" + slowLink(t, strings.TrimPrefix(res.BaseURL, "http://"), 8<<20) + "/ostree"
		var killed int
		repo := pullDuring(t, slow, func() {
			time.Sleep(time.Second)
			killed = killServer(t, string(pods[0].UID))
		})
		t.Logf("killed the server of pod %s (pid %d)", pods[0].Name, killed)
		checkPulled(t, repo, s.commit)
	})

	t.Run("delete", func(t *testing.T) {
		r := plugin(t, t.TempDir(), "serve", "--kubeconfig", c.kubeconfig, "-n", ns, "--delete")
		if r.code != 0 || !strings.Contains(r.stdout, "deployment/ock-ostree") {
			t.Fatalf("delete: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		if left := c.served(t, ns); len(left) != 0 {
			t.Errorf("left after --delete: %v", left)
		}
	})
}

// TestInClusterServeFaults: what cannot work fails with its reason, and a
// first deployment that failed leaves nothing behind.
func TestInClusterServeFaults(t *testing.T) {
	c := clusterOnly(t)
	image := serverImage(t, c, "serve/ock-ostree-faults")

	t.Run("image cannot be pulled", func(t *testing.T) {
		ns := newNamespace(t, c, "ocne-serve-pull")
		start := time.Now()
		_, r := serve(t, c, ns, "--image", c.podReg+"/serve/no-such-image:1")
		if r.code != 1 || !strings.Contains(r.stderr, "cannot be pulled") || !strings.Contains(r.stderr, "ErrImagePull") && !strings.Contains(r.stderr, "ImagePullBackOff") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		if d := time.Since(start); d > 90*time.Second {
			t.Errorf("took %s to notice", d)
		}
		if left := c.served(t, ns); len(left) != 0 {
			t.Errorf("left after the failure: %v", left)
		}
	})

	t.Run("node port already taken", func(t *testing.T) {
		ns := newNamespace(t, c, "ocne-serve-port")
		res, r := serve(t, c, ns, "--image", image, "--name", "first", "--replicas", "1")
		if r.code != 0 {
			t.Fatalf("serve: %s", r.stderr)
		}
		port := res.BaseURL[strings.LastIndex(res.BaseURL, ":")+1:]
		_, r = serve(t, c, ns, "--image", image, "--name", "second", "--node-port", port)
		if r.code != 1 || !strings.Contains(r.stderr, "node port "+port+" is already used") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		for _, l := range c.served(t, ns) {
			if strings.Contains(l, "second") {
				t.Errorf("left after the failure: %s", l)
			}
		}
	})

	t.Run("bad input", func(t *testing.T) {
		tests := []struct {
			args    []string
			code    int
			wantErr string
		}{
			{[]string{}, 2, "--image is required"},
			{[]string{"--image", image, "--service-type", "Ingress"}, 2, "invalid --service-type"},
			{[]string{"--image", image, "--replicas", "0"}, 2, "--replicas must be at least 1"},
			{[]string{"--image", image, "--service-type", "ClusterIP", "--node-port", "30000"}, 2, "--node-port needs"},
			{[]string{"--image", image, "--name", "Bad_Name"}, 2, "invalid --name"},
			{[]string{"--image", image, "--kickstart", "/nonexistent/ock.ks"}, 2, "no such file"},
			{[]string{"--image", image, "--kickstart", "auto", "--kickstart", "/tmp/x/ock.ks"}, 2, "would both be ock.ks"},
			{[]string{"--image", image, "--ignition-file", "a/b.ign"}, 2, "invalid --ignition-file"},
			{[]string{"--image", image, "--kickstart", "auto", "--ref", "a ref"}, 2, `--ref: invalid ref name "a ref"`},
		}
		for _, tt := range tests {
			r := plugin(t, t.TempDir(), append([]string{"serve", "--kubeconfig", c.kubeconfig, "-n", "ocne-serve-bad"}, tt.args...)...)
			msg := strings.TrimSpace(r.stderr)
			if r.code != tt.code || !strings.Contains(msg, tt.wantErr) || strings.Contains(msg, "\n") {
				t.Errorf("serve %v: exit %d, stderr %q; want exit %d and %q", tt.args, r.code, msg, tt.code, tt.wantErr)
			}
		}
		if left := c.served(t, "ocne-serve-bad"); len(left) != 0 {
			t.Errorf("left: %v", left)
		}
	})
}

// TestServeWithoutCluster: no kubeconfig, or a server that does not
// answer: one line, fast.
func TestServeWithoutCluster(t *testing.T) {
	r := plugin(t, t.TempDir(), "serve", "--image", "x")
	if r.code != 1 || !strings.Contains(r.stderr, "no kubeconfig") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	start := time.Now()
	r = plugin(t, t.TempDir(), "serve", "--image", "x", "--server", "https://127.0.0.1:1", "--insecure-skip-tls-verify")
	if r.code != 1 || !strings.Contains(r.stderr, "does not answer") || time.Since(start) > 10*time.Second {
		t.Errorf("exit %d after %s: %s", r.code, time.Since(start), r.stderr)
	}
}

// getBody is the body of a GET, or the error as text.
func getBody(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// pullDuring has libostree pull the ref from url into a new repository
// and runs disrupt meanwhile (disrupt decides when). A pull that fails is
// retried a few times, 2 s apart, as a user would (Anaconda offers a
// retry); one must succeed. disrupt must have run while the first pull was in progress.
func pullDuring(t *testing.T, url string, disrupt func()) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	harness.Run(t, "ostree", "--repo="+repo, "init", "--mode=bare-user")
	harness.Run(t, "ostree", "--repo="+repo, "remote", "add", "--no-gpg-verify", "ock", url)
	pull := exec.Command("ostree", "--repo="+repo, "pull", "ock", "ock")
	var out strings.Builder
	pull.Stdout, pull.Stderr = &out, &out
	if err := pull.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pull.Wait() }()
	disrupt()
	at := time.Now()
	select {
	case <-done:
		t.Fatal("the pull was over before the disruption: make the fixture larger or the link slower")
	default:
	}
	if err := <-done; err != nil {
		t.Logf("first pull failed %s after the disruption: %s", time.Since(at).Round(time.Millisecond), strings.TrimSpace(out.String()))
		// Until the readiness probe notices, the Service may still send a
		// new connection to the failed replica: retry as a user would.
		for attempt := 2; ; attempt++ {
			time.Sleep(2 * time.Second)
			start := time.Now()
			b, err := exec.Command("ostree", "--repo="+repo, "pull", "ock", "ock").CombinedOutput()
			if err == nil {
				t.Logf("pull %d succeeded in %s", attempt, time.Since(start).Round(time.Millisecond))
				break
			}
			if attempt == 4 {
				t.Fatalf("pull %d failed: %s", attempt, b)
			}
			t.Logf("pull %d failed: %s", attempt, strings.TrimSpace(string(b)))
		}
	} else {
		t.Logf("the pull went on for %s after the disruption, without an error", time.Since(at).Round(time.Millisecond))
	}
	return repo
}

func checkPulled(t *testing.T, repo, commit string) {
	t.Helper()
	if got := harness.Run(t, "ostree", "--repo="+repo, "rev-parse", "ock:ock"); got != commit {
		t.Errorf("pulled %s, want %s", got, commit)
	}
	harness.Run(t, "ostree", "--repo="+repo, "fsck")
}

// servingPods lists the server's pods that are ready and not terminating.
func (c *testCluster) servingPods(t *testing.T, ns string) []corev1.Pod {
	t.Helper()
	pods, err := c.cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: clusterserve.LabelInstance + "=ock-ostree"})
	if err != nil {
		t.Fatal(err)
	}
	var ready []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Ready {
			ready = append(ready, p)
		}
	}
	if len(ready) < 2 {
		t.Fatalf("%d ready replicas, want at least 2", len(ready))
	}
	return ready
}

// killServer SIGKILLs the archive server process of the pod with uid (the
// test runs on the node), as a crash would end it.
func killServer(t *testing.T, uid string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmd, _ := os.ReadFile(p)
		if !strings.Contains(string(cmd), "ocne-archive-server") {
			continue
		}
		dir := filepath.Dir(p)
		cg, _ := os.ReadFile(filepath.Join(dir, "cgroup"))
		// cgroupfs paths name the pod as pod<uid>.
		if !strings.Contains(string(cg), "pod"+uid) {
			continue
		}
		var pid int
		fmt.Sscan(filepath.Base(dir), &pid)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		return pid
	}
	t.Fatalf("no archive server process for pod %s", uid)
	return 0
}

// slowLink is a TCP proxy to target that passes at most rate bytes/s to
// each client connection, and cuts the client off (RST) when the server
// side breaks, as a router between a node and a failed replica would.
func slowLink(t *testing.T, target string, rate int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go relaySlowly(client.(*net.TCPConn), target, rate)
		}
	}()
	return ln.Addr().String()
}

func relaySlowly(client *net.TCPConn, target string, rate int) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		client.SetLinger(0)
		return
	}
	defer server.Close()
	go io.Copy(server, client)
	buf := make([]byte, rate/20)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			client.SetLinger(0)
			return
		}
	}
}

// TestInClusterPublish: the `cluster` Ignition hosting built-in publishes
// into a served archive's Secret: it passes the conformance suite, and
// `ignition join --publish cluster` prints a URL the Service answers.
func TestInClusterPublish(t *testing.T) {
	c := clusterOnly(t)
	image := serverImage(t, c, "serve/ock-ostree-publish")
	ns := newNamespace(t, c, "ocne-publish")
	if _, r := serve(t, c, ns, "--image", image); r.code != 0 {
		t.Fatalf("serve: exit %d: %s", r.code, r.stderr)
	}
	opts := map[string]string{"kubeconfig": c.kubeconfig, "namespace": ns}

	t.Run("conformance", func(t *testing.T) {
		conformance.Run(t, conformance.Config{Builtin: "cluster", Host: clusterserve.IgnitionHost{}, Options: opts})
	})

	t.Run("join --publish cluster", func(t *testing.T) {
		r := plugin(t, t.TempDir(), "ignition", "join", "--kubeconfig", c.kubeconfig, "-n", ns, "--ttl", "10m", "--publish", "cluster")
		if r.code != 0 {
			t.Fatalf("join --publish cluster: exit %d: %s", r.code, r.stderr)
		}
		url := strings.TrimSpace(r.stdout)
		_, _, jc := readJoin(t, []byte(get(t, url, 200)))
		id, _, _ := strings.Cut(jc.Discovery.BootstrapToken.Token, ".")
		defer jointoken.Delete(context.Background(), c.cs, id)
		r = plugin(t, t.TempDir(), "ignition", "list", "--backend", "cluster", "--publish-opt", "kubeconfig="+c.kubeconfig,
			"--publish-opt", "namespace="+ns, "-o", "json")
		if r.code != 0 || !strings.Contains(r.stdout, url) || !strings.Contains(r.stdout, "expires") {
			t.Errorf("list: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
		name := url[strings.LastIndex(url, "/")+1:]
		r = plugin(t, t.TempDir(), "ignition", "unpublish", "--backend", "cluster", "--publish-opt", "kubeconfig="+c.kubeconfig,
			"--publish-opt", "namespace="+ns, name)
		if r.code != 0 {
			t.Fatalf("unpublish: exit %d: %s", r.code, r.stderr)
		}
		get(t, url, 404)
	})

	t.Run("no server to publish to", func(t *testing.T) {
		r := plugin(t, t.TempDir(), "ignition", "join", "--kubeconfig", c.kubeconfig, "-n", "ocne-no-server", "--publish", "cluster")
		if r.code == 0 || !strings.Contains(r.stderr, "no archive server") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})
}
