package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	k8stesting "k8s.io/client-go/testing"

	"github.com/ocne-image/ocne-image/shared/builderimage"
	"github.com/ocne-image/ocne-image/shared/buildinfo"
	"github.com/ocne-image/ocne-image/shared/ignition"
	"github.com/ocne-image/ocne-image/shared/ock"
)

// isolate points HOME and the configuration files at an empty directory,
// which it returns.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("OCNE_DEFAULTS", "")
	t.Setenv("OCNE_IMAGE_CONFIG", "")
	return home
}

// completeJoin parses args into `ignition join` against a fake cluster and
// runs Complete and Validate.
func completeJoin(t *testing.T, args ...string) (*IgnitionJoinOptions, error) {
	t.Helper()
	home := isolate(t)
	c, o := newCmdIgnitionJoin(genericiooptions.NewTestIOStreamsDiscard())
	o.defaultsDir = home
	o.clients, _ = fakeClients(t)
	parseFlags(t, c, args...)
	if err := o.Complete(c); err != nil {
		return o, err
	}
	return o, o.Validate()
}

func TestIgnitionJoinValidate(t *testing.T) {
	dir := t.TempDir()
	cfg := func(yaml string) string { return testFile(t, t.TempDir(), "cluster.yaml", yaml) }
	badJSON := testFile(t, dir, "extra.ign", `{"ignition": {"version": "3.4.0"}, "storage": `)
	tests := []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"bad role", []string{"--role", "master"}, `invalid --role "master": use worker or control-plane`, true},
		{"bad ignition version", []string{"--ignition-version", "2.2.0"}, `unsupported --ignition-version "2.2.0"`, true},
		{"negative ttl", []string{"--ttl", "-1h"}, "invalid --ttl -1h0m0s: use a positive duration, or 0", true},
		{"os registry with a tag", []string{"--os-registry", "reg.example.com/ock:1.31"}, "--os-registry: invalid osRegistry", true},
		{"os tag with a colon", []string{"--os-tag", "a:b"}, `invalid --os-tag "a:b"`, true},
		{"api server with a space", []string{"--api-server", "a b"}, "--api-server: invalid API server endpoint", true},
		{"plain password", []string{"--password-hash", "secret"}, "--password-hash is not a crypt(3) hash", true},
		{"upload-certs for a worker", []string{"--upload-certs"}, "--upload-certs is for --role control-plane", true},
		{"upload-certs without an image", []string{"--role", "control-plane", "--upload-certs", "--upload-certs-image", ""},
			"--upload-certs-image must not be empty", true},
		{"interface with a slash", []string{"--net-interface", "en/0"}, `invalid --net-interface "en/0"`, true},
		{"extra ignition missing", []string{"--extra-ignition", filepath.Join(dir, "none.ign")}, "--extra-ignition: ", true},
		{"extra ignition not JSON", []string{"--extra-ignition", badJSON}, "extra Ignition: ", true},
		{"ssh key file missing", []string{"--ssh-public-key-file", filepath.Join(dir, "none.pub")}, "--ssh-public-key-file: ", true},
		{"virtual IP control plane without interface", []string{"--role", "control-plane", "-c", cfg("virtualIp: 192.0.2.1\n")},
			"a control plane behind virtualIp 192.0.2.1 needs the interface", true},
		{"config that does not parse", []string{"-c", cfg("virtualIp: [\n")}, "cluster.yaml", true},
		{"config with a bad key value", []string{"-c", cfg("kubeApiServerBindPort: 70000\n")}, "kubeApiServerBindPort 70000 is not a port", true},
		{"output file in a missing directory", []string{"--output-file", filepath.Join(dir, "none", "n.ign")}, "its directory does not exist", true},
		{"json to standard output", []string{"-o", "json"}, "-o json needs --output-file or --publish", true},
		{"the file twice", []string{"-o", filepath.Join(dir, "a.ign"), "--output-file", filepath.Join(dir, "b.ign")}, "pass the file once, as --output-file", true},
		{"worker", nil, "", false},
		{"control plane with everything", []string{"--role", "control-plane", "--upload-certs", "--api-server", "lb.example.com",
			"--output-file", filepath.Join(dir, "cp.ign"), "-o", "json"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := completeJoin(t, tt.args...)
			checkErr(t, err, tt.want, tt.usage)
		})
	}
}

// TestIgnitionJoinComplete: flags beat the configuration files, which beat
// the built-in defaults.
func TestIgnitionJoinComplete(t *testing.T) {
	tests := []struct {
		name                            string
		cluster                         string
		args                            []string
		wantAPIServer, wantImage        string
		wantRegistry, wantOSRegistry    string
		wantTokenOnly, wantUpload       bool
		wantSSHKeys                     int
		wantExtras                      int
		wantInterface, wantPasswordHash string
	}{
		{name: "built-in defaults", wantImage: builderimage.Default(buildinfo.Version),
			wantRegistry: ignition.DefaultContainerRegistry, wantOSRegistry: ock.DefaultRegistry},
		{name: "the cluster file", cluster: "loadBalancer: lb.example.com\nregistry: mirror.example.com\nosRegistry: mirror.example.com/ock\n" +
			"builderImage: reg.example.com/b:1\npassword: $6$x\nsshPublicKey: |\n  ssh-ed25519 AAA a\n  # a comment\n  ssh-ed25519 BBB b\n" +
			"extraIgnitionInline: '{\"ignition\":{\"version\":\"3.4.0\"}}'\nproviders:\n  byo:\n    networkInterface: enp1s0\n    automaticTokenCreation: false\n",
			wantAPIServer: "lb.example.com:6443", wantImage: "reg.example.com/b:1", wantRegistry: "mirror.example.com", wantOSRegistry: "mirror.example.com/ock",
			wantTokenOnly: true, wantSSHKeys: 2, wantExtras: 1, wantInterface: "enp1s0", wantPasswordHash: "$6$x"},
		{name: "automatic token creation uploads a control plane's certificates", cluster: "providers:\n  byo:\n    automaticTokenCreation: true\n",
			args: []string{"--role", "control-plane"}, wantImage: builderimage.Default(buildinfo.Version),
			wantRegistry: ignition.DefaultContainerRegistry, wantOSRegistry: ock.DefaultRegistry, wantUpload: true},
		{name: "flags win", cluster: "loadBalancer: lb.example.com\nregistry: mirror.example.com\nproviders:\n  byo:\n    automaticTokenCreation: false\n",
			args:          []string{"--api-server", "192.0.2.7:443", "--registry", "r.example.com", "--token-only-print=false", "--net-interface", "eth1"},
			wantAPIServer: "192.0.2.7:443", wantImage: builderimage.Default(buildinfo.Version), wantRegistry: "r.example.com",
			wantOSRegistry: ock.DefaultRegistry, wantInterface: "eth1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.cluster != "" {
				args = append(args, "-c", testFile(t, t.TempDir(), "cluster.yaml", tt.cluster))
			}
			o, err := completeJoin(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			got := []any{o.APIServer, o.UploadImage, o.Registry, o.OSRegistry, o.TokenOnlyPrint, o.UploadCerts, len(o.sshKeys), len(o.extras), o.NetInterface, o.PasswordHash}
			want := []any{tt.wantAPIServer, tt.wantImage, tt.wantRegistry, tt.wantOSRegistry, tt.wantTokenOnly, tt.wantUpload, tt.wantSSHKeys, tt.wantExtras, tt.wantInterface, tt.wantPasswordHash}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("got %v\nwant %v", got, want)
					break
				}
			}
		})
	}
}

// runJoin runs `ignition join args...` against the fake cluster cs built.
func runJoin(t *testing.T, setup func(*k8stesting.Fake), args ...string) (stdout, stderr string, tokens int, err error) {
	t.Helper()
	home := isolate(t)
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	c, o := newCmdIgnitionJoin(streams)
	o.defaultsDir = home
	clients, cs := fakeClients(t)
	o.clients = clients
	if setup != nil {
		setup(&cs.Fake)
	}
	parseFlags(t, c, args...)
	if err = o.Complete(c); err == nil {
		if err = o.Validate(); err == nil {
			err = o.Run(context.Background())
		}
	}
	secrets, lerr := cs.CoreV1().Secrets("kube-system").List(context.Background(), metav1.ListOptions{})
	if lerr != nil {
		t.Fatal(lerr)
	}
	return out.String(), errOut.String(), len(secrets.Items), err
}

func TestIgnitionJoinRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "worker.ign")
	stdout, stderr, tokens, err := runJoin(t, nil, "--output-file", out, "-o", "json", "-v")
	if err != nil {
		t.Fatal(err)
	}
	var res joinResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.File != out || res.TokenID == "" || res.Expires.IsZero() {
		t.Errorf("-o json printed %q (%v)", stdout, err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file: %v, %v", fi, err)
	}
	if b, _ := os.ReadFile(out); !json.Valid(b) {
		t.Errorf("the config is not JSON: %.80s", b)
	}
	if tokens != 1 || !strings.Contains(stderr, "Cluster 192.0.2.10:6443 (Kubernetes v1.33.2, endpoint and CA from kubeconfig), kubeadm kubeadm.k8s.io/v1beta4") ||
		!strings.Contains(stderr, "Created bootstrap token "+res.TokenID) {
		t.Errorf("%d tokens; stderr %s", tokens, stderr)
	}

	// To standard output, the user making the token.
	stdout, stderr, tokens, err = runJoin(t, nil, "--token-only-print", "--role", "control-plane")
	if err != nil {
		t.Fatal(err)
	}
	if tokens != 0 || !json.Valid([]byte(stdout)) || !strings.Contains(stderr, "kubeadm token create ") ||
		!strings.Contains(stderr, "kubeadm init phase upload-certs --upload-certs --certificate-key ") {
		t.Errorf("%d tokens; stdout %.80s; stderr %s", tokens, stdout, stderr)
	}
}

// TestIgnitionJoinRollback: a failure after the token was created removes
// it, and what was published.
func TestIgnitionJoinRollback(t *testing.T) {
	dir := t.TempDir()
	asDir := filepath.Join(dir, "taken.ign")
	if err := os.Mkdir(asDir, 0o755); err != nil {
		t.Fatal(err)
	}
	pubDir := filepath.Join(dir, "published")
	os.Mkdir(pubDir, 0o755)
	publish := []string{"--publish", "dir", "--publish-opt", "dir=" + pubDir, "--publish-opt", "base-url=http://192.0.2.5:8080/ignition"}

	tests := []struct {
		name  string
		setup func(*k8stesting.Fake)
		args  []string
		want  string
	}{
		{name: "the file cannot be written", args: []string{"--output-file", asDir}, want: "taken.ign"},
		{name: "published, then the file cannot be written", args: append([]string{"--output-file", asDir}, publish...), want: "taken.ign"},
		{name: "the certificates cannot be uploaded", args: []string{"--role", "control-plane", "--upload-certs"},
			setup: func(f *k8stesting.Fake) {
				f.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, os.ErrPermission
				})
			}, want: "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, tokens, err := runJoin(t, tt.setup, tt.args...)
			checkErr(t, err, tt.want, false)
			if tokens != 0 {
				t.Errorf("%d token Secrets left", tokens)
			}
			if entries, _ := os.ReadDir(pubDir); len(entries) != 0 {
				t.Errorf("left published: %v", entries)
			}
		})
	}
}
