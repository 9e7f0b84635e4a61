package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deadKubeconfig is a kubeconfig whose API server refuses connections.
const deadKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: dead
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: dead
  context: {cluster: dead, user: u}
current-context: dead
`

// TestKubeconfigChoice runs commands that talk to a cluster with two
// kubeconfigs, the test cluster's (live) and one at a dead address, put in
// every place a kubeconfig can come from: --kubeconfig beats $KUBECONFIG,
// which beats `kubeconfig:` in ~/.ocne/ocne-image.yaml, then in
// ~/.ocne/defaults.yaml, then ~/.kube/config.
func TestKubeconfigChoice(t *testing.T) {
	live := clusterOnly(t).kubeconfig
	dead := filepath.Join(t.TempDir(), "dead.conf")
	if err := os.WriteFile(dead, []byte(deadKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	const ns = "wt-config-kubeconfig-choice" // never created: both commands only read
	// What each command says when it did reach the live cluster.
	serve := []string{"serve", "--delete", "--name", "kc-choice", "-n", ns}
	const serveLive = "nothing named kc-choice to delete"
	list := []string{"ignition", "list", "--backend", "cluster", "--publish-opt", "namespace=" + ns}
	const listLive = "no archive server ock-ostree in namespace " + ns
	tests := []struct {
		name                           string
		args                           []string
		flag, env, own, defaults, home string // a kubeconfig, or "" for none
		wantLive                       string // "": the dead one must be used
	}{
		{name: "flag beats all", args: serve, flag: live, env: dead, own: dead, defaults: dead, home: dead, wantLive: serveLive},
		{name: "dead flag beats live env", args: serve, flag: dead, env: live, home: live},
		{name: "env beats the files", args: serve, env: live, own: dead, defaults: dead, home: dead, wantLive: serveLive},
		{name: "dead env beats live files", args: serve, env: dead, own: live, defaults: live, home: live},
		{name: "our file beats defaults.yaml", args: serve, own: live, defaults: dead, home: dead, wantLive: serveLive},
		{name: "defaults.yaml beats ~/.kube/config", args: serve, defaults: live, home: dead, wantLive: serveLive},
		{name: "dead defaults.yaml beats live ~/.kube/config", args: serve, defaults: dead, home: live},
		{name: "~/.kube/config last", args: serve, home: live, wantLive: serveLive},
		{name: "cluster backend: defaults.yaml beats ~/.kube/config", args: list, defaults: live, home: dead, wantLive: listLive},
		{name: "cluster backend: env beats defaults.yaml", args: list, env: dead, defaults: live, home: live},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			os.MkdirAll(filepath.Join(home, ".kube"), 0o755)
			os.MkdirAll(filepath.Join(home, ".ocne"), 0o755)
			if tt.home != "" {
				b, _ := os.ReadFile(tt.home)
				os.WriteFile(filepath.Join(home, ".kube", "config"), b, 0o600)
			}
			if tt.own != "" {
				os.WriteFile(filepath.Join(home, ".ocne", "ocne-image.yaml"), []byte("kubeconfig: "+tt.own+"\n"), 0o644)
			}
			if tt.defaults != "" {
				os.WriteFile(filepath.Join(home, ".ocne", "defaults.yaml"), []byte("kubeconfig: "+tt.defaults+"\n"), 0o644)
			}
			args := append([]string{}, tt.args...)
			if tt.flag != "" {
				args = append(args, "--kubeconfig", tt.flag)
			}
			r := pluginEnv(t, home, []string{"KUBECONFIG=" + tt.env}, args...)
			reachedDead := strings.Contains(r.stderr, "127.0.0.1:1")
			if tt.wantLive != "" && (reachedDead || !strings.Contains(r.stdout+r.stderr, tt.wantLive)) ||
				tt.wantLive == "" && (r.code != 1 || !reachedDead) {
				t.Errorf("exit %d, stdout %q, stderr %q; want the live cluster: %v", r.code, r.stdout, r.stderr, tt.wantLive != "")
			}
		})
	}
}
