// Package cluster_test checks the real single-node cluster test/cluster/up.sh
// starts: an image pushed to its registry runs as a pod, reaches the
// registry through the pod network's gateway, and its logs come back.
//
//	make cluster-up            # prints the kubeconfig path last
//	OCNE_TEST_KUBECONFIG=<path> go test ./test/cluster/
//	make cluster-down
package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
)

// The addresses up.sh serves its registry on: the host's loopback (for the
// test and for containerd's pulls) and the pod network's gateway (for pods).
func registries() (host, pod string) {
	host, pod = os.Getenv("OCNE_TEST_REGISTRY"), os.Getenv("OCNE_TEST_POD_REGISTRY")
	if host == "" {
		host = "127.0.0.1:5000"
	}
	if pod == "" {
		pod = "10.244.0.1:5000"
	}
	return host, pod
}

// client returns a clientset for the cluster OCNE_TEST_KUBECONFIG names, or
// skips the test.
func client(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	path := os.Getenv("OCNE_TEST_KUBECONFIG")
	if path == "" {
		t.Skip("OCNE_TEST_KUBECONFIG is unset: no test cluster. Run `make cluster-up` (as root) and set OCNE_TEST_KUBECONFIG to the kubeconfig path it prints last")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("kubeconfig %s: %v", path, err)
	}
	cfg.Timeout = 30 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

const helloSource = `package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	fmt.Println("hello from the test cluster")
	r := os.Getenv("REGISTRY")
	c := http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get("http://" + r + "/v2/")
	if err != nil {
		fmt.Println("registry via the pod gateway:", err)
		os.Exit(1)
	}
	resp.Body.Close()
	fmt.Printf("registry via the pod gateway %s: %d\n", r, resp.StatusCode)
}
`

// buildHello compiles helloSource into a static binary for this machine.
func buildHello(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"go.mod": "module hello\n\ngo 1.22\n", "main.go": helloSource} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// go test puts its own GOROOT/bin first in PATH.
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("build hello: %v", err)
	}
	out := filepath.Join(dir, "hello")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH,
		"GOFLAGS=-buildvcs=false", "GOWORK=off", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build hello: %v\n%s", err, b)
	}
	return out
}

// pushHello puts the binary in a one-layer image as /hello and writes it to
// docker://<registry>/test/hello:1.
func pushHello(ctx context.Context, t *testing.T, bin, registry string) string {
	t.Helper()
	layer, err := ociarchive.NewTarLayer(t.TempDir(), ociarchive.Gzip, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := layer.File("/hello", 0o755, st.Size(), f); err != nil {
		layer.Remove()
		t.Fatal(err)
	}
	bl, err := layer.Finish()
	if err != nil {
		t.Fatal(err)
	}
	b := ociarchive.Build{
		Layers: []ociarchive.BlobLayer{bl},
		Config: imgspecv1.Image{
			Platform: imgspecv1.Platform{OS: "linux", Architecture: runtime.GOARCH},
			Config:   imgspecv1.ImageConfig{Entrypoint: []string{"/hello"}},
		},
	}
	defer b.RemoveLayerFiles()
	image := registry + "/test/hello:1"
	ref, err := containerimage.ParseReference("docker://" + image)
	if err != nil {
		t.Fatal(err)
	}
	d, err := containerimage.Write(ctx, ref.ImageReference, []ociarchive.Build{b}, containerimage.Options{TLSVerify: false})
	if err != nil {
		t.Fatalf("push %s: %v", image, err)
	}
	t.Logf("pushed %s (%s)", image, d)
	return image
}

func TestPodRunsImageFromLocalRegistry(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the test cluster")
	}
	cs := client(t)
	hostRegistry, podRegistry := registries()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("reach the cluster: %v", err)
	}
	t.Logf("cluster %s", v.GitVersion)

	image := pushHello(ctx, t, buildHello(t), hostRegistry)

	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ocne-smoke-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() { deleteNamespace(t, cs, ns.Name) })

	// A new namespace's default ServiceAccount comes from the controller
	// manager, shortly after; pods cannot be admitted before it exists.
	poll(ctx, t, "the default ServiceAccount of "+ns.Name, func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name:            "hello",
				Image:           image,
				ImagePullPolicy: corev1.PullAlways,
				Env:             []corev1.EnvVar{{Name: "REGISTRY", Value: podRegistry}},
			}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns.Name).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod: %v", err)
	}
	start := time.Now()
	var got *corev1.Pod
	ok := pollOK(ctx, "pod hello to finish", func() (bool, error) {
		got, err = cs.CoreV1().Pods(ns.Name).Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.Phase == corev1.PodSucceeded || got.Status.Phase == corev1.PodFailed, nil
	})
	logs, logErr := cs.CoreV1().Pods(ns.Name).GetLogs("hello", &corev1.PodLogOptions{}).DoRaw(ctx)
	if !ok || got.Status.Phase != corev1.PodSucceeded {
		t.Errorf("pod hello did not succeed: %v", describe(ctx, cs, ns.Name, got))
		t.Fatalf("its logs (%v):\n%s", logErr, logs)
	}
	t.Logf("pod ran on %s with IP %s; done in %s", got.Spec.NodeName, got.Status.PodIP, time.Since(start).Round(time.Millisecond))
	if logErr != nil {
		t.Fatalf("read the logs of pod hello: %v", logErr)
	}
	t.Logf("logs:\n%s", logs)
	for _, want := range []string{"hello from the test cluster", fmt.Sprintf("registry via the pod gateway %s: 200", podRegistry)} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("logs lack %q", want)
		}
	}
}

// describe says where a pod got stuck: its phase, container states and the
// namespace's events.
func describe(ctx context.Context, cs *kubernetes.Clientset, ns string, p *corev1.Pod) string {
	var sb strings.Builder
	if p != nil {
		fmt.Fprintf(&sb, "phase %s %s", p.Status.Phase, p.Status.Message)
		for _, s := range p.Status.ContainerStatuses {
			fmt.Fprintf(&sb, "\n  container %s: %+v", s.Name, s.State)
		}
	}
	if evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, e := range evs.Items {
			fmt.Fprintf(&sb, "\n  event %s %s/%s: %s: %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	return sb.String()
}

func deleteNamespace(t *testing.T, cs *kubernetes.Clientset, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete namespace %s: %v", ns, err)
		return
	}
	poll(ctx, t, "namespace "+ns+" to be deleted", func() (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// poll calls f every half second until it reports done, fails, or ctx ends;
// the last two fail the test.
func poll(ctx context.Context, t *testing.T, what string, f func() (bool, error)) {
	t.Helper()
	if !pollOK(ctx, what, f) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func pollOK(ctx context.Context, what string, f func() (bool, error)) bool {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		done, err := f()
		if done {
			return true
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				fmt.Fprintf(os.Stderr, "waiting for %s: last error: %v\n", what, last)
			}
			return false
		case <-tick.C:
		}
	}
}
