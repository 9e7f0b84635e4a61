package kubeflags

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// kubeconfig writes a kubeconfig whose one context talks to server.
func kubeconfig(t *testing.T, server string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config")
	cfg := "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n" +
		"clusters:\n- name: k\n  cluster: {server: \"" + server + "\"}\nusers:\n- name: u\n  user: {token: t}\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClients(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"major":"1","minor":"33","gitVersion":"v1.33.2"}`))
	}))
	defer api.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no kubeconfig", nil, "no kubeconfig: set KUBECONFIG or pass --kubeconfig"},
		{"a kubeconfig that is not there", []string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}, "no such file"},
		{"an unknown context", []string{"--kubeconfig", kubeconfig(t, api.URL), "--context", "other"}, `context "other" does not exist`},
		{"a cluster that is down", []string{"--kubeconfig", kubeconfig(t, down.URL)}, "the cluster at " + down.URL + " does not answer"},
		{"a cluster that answers", []string{"--kubeconfig", kubeconfig(t, api.URL)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", "")
			t.Setenv("HOME", t.TempDir())
			c := &cobra.Command{Use: "x"}
			flags := Add(c)
			if err := c.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			cl := NewClients(flags)
			err := cl.Reachable()
			if tt.wantErr == "" {
				if err != nil || cl.Kube == nil || cl.Config.Host != api.URL {
					t.Fatalf("%v; clients %+v", err, cl)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line with %q", err, tt.wantErr)
			}
		})
	}
	// A fake is always there.
	if err := (&Clients{}).Reachable(); err != nil {
		t.Errorf("fake: %v", err)
	}
}
