package cmd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/cli/kubeflags"
	"github.com/ocne-image/ocne-image/shared/clusterpki"
)

// Helpers for the tests of the commands' Complete and Validate.

// parseFlags parses args as cobra does before RunE.
func parseFlags(t *testing.T, c *cobra.Command, args ...string) {
	t.Helper()
	if err := c.ParseFlags(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
}

// checkErr fails unless err is one line holding want, a usage error
// (exit 2) exactly if usage; want "" expects no error.
func checkErr(t *testing.T, err error, want string, usage bool) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var u cli.UsageError
	switch {
	case err == nil:
		t.Fatalf("no error, want %q", want)
	case !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n"):
		t.Fatalf("error %q, want one line with %q", err, want)
	case errors.As(err, &u) != usage:
		t.Fatalf("error %q: usage error %v, want %v", err, !usage, usage)
	}
}

// testFile writes a test input and returns its path.
func testFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeClients are the clients of a fake cluster running Kubernetes
// v1.33.2 at 192.0.2.10:6443 with a CA of its own, holding objs.
func fakeClients(t *testing.T, objs ...runtime.Object) (*kubeflags.Clients, *fake.Clientset) {
	t.Helper()
	ca, _, err := clusterpki.LoadOrCreate(t.TempDir(), clusterpki.Subject{})
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset(objs...)
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.33.2"}
	rc := &rest.Config{Host: "https://192.0.2.10:6443", TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM}}
	return &kubeflags.Clients{Config: rc, Kube: cs}, cs
}
