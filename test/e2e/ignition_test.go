package e2e

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v34 "github.com/coreos/ignition/v2/config/v3_4"
	igntypes "github.com/coreos/ignition/v2/config/v3_4/types"
	"github.com/vincent-petithory/dataurl"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/ocne-image/ocne-image/shared/certupload"
	"github.com/ocne-image/ocne-image/shared/jointoken"
	"github.com/ocne-image/ocne-image/test/harness"
)

// ourTokens lists the bootstrap token Secrets ignition join made.
func (j *testCluster) ourTokens(t *testing.T) []string {
	t.Helper()
	l, err := j.cs.CoreV1().Secrets("kube-system").List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=" + jointoken.ManagedBy})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range l.Items {
		if s.Type == corev1.SecretTypeBootstrapToken {
			names = append(names, s.Name)
		}
	}
	return names
}

// deleteToken removes a token Secret at the end of the test.
func (j *testCluster) deleteToken(t *testing.T, id string) {
	t.Cleanup(func() {
		if err := jointoken.Delete(context.Background(), j.cs, id); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

// ignitionTool is a real Ignition binary `make test` builds from the
// module version the plugin uses.
func ignitionTool(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(harness.RepoRoot(t), ".cache", "tools", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s missing: run `make .cache/tools/%s` (make test does)", p, name)
	}
	// Same version as the config types we write with, or the checks
	// below prove nothing about them.
	out, _ := exec.Command(p, "-version").CombinedOutput()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/coreos/ignition/v2" && !strings.Contains(string(out), d.Version) {
				t.Fatalf("%s is %s, the plugin uses %s: rebuild it", name, strings.TrimSpace(string(out)), d.Version)
			}
		}
	}
	return p
}

// joinConfig is the part of the JoinConfiguration the tests read.
type joinConfig struct {
	APIVersion string
	Discovery  struct {
		BootstrapToken struct {
			APIServerEndpoint string
			Token             string
			CACertHashes      []string
		}
	}
	ControlPlane *struct{ CertificateKey string }
}

// readJoin parses an ignition join output with the library, and returns
// it with the kubeadm.conf it holds.
func readJoin(t *testing.T, raw []byte) (igntypes.Config, string, joinConfig) {
	t.Helper()
	cfg, rpt, err := v34.Parse(raw)
	if err != nil {
		t.Fatalf("the ignition library rejects the config: %v %s", err, rpt)
	}
	for _, f := range cfg.Storage.Files {
		if f.Path != "/etc/kubernetes/kubeadm.conf" {
			continue
		}
		if f.Mode == nil || *f.Mode != 0o600 {
			t.Errorf("kubeadm.conf mode %v, want 0600", f.Mode)
		}
		d, err := dataurl.DecodeString(*f.Contents.Source)
		if err != nil {
			t.Fatal(err)
		}
		var jc joinConfig
		if err := yaml.Unmarshal([]byte(strings.Split(string(d.Data), "---\n")[0]), &jc); err != nil {
			t.Fatal(err)
		}
		return cfg, string(d.Data), jc
	}
	t.Fatal("no /etc/kubernetes/kubeadm.conf in the config")
	return cfg, "", joinConfig{}
}

// kubeadmValidate runs the real kubeadm's offline config check.
func kubeadmValidate(t *testing.T, conf string) {
	t.Helper()
	kubeadm := filepath.Join(os.Getenv("CLUSTER_CACHE"), "bin", "kubeadm")
	if _, err := os.Stat(kubeadm); err != nil {
		t.Fatalf("kubeadm missing at %s: set CLUSTER_CACHE (make test does)", kubeadm)
	}
	f := filepath.Join(t.TempDir(), "kubeadm.conf")
	os.WriteFile(f, []byte(conf), 0o600)
	if out, err := exec.Command(kubeadm, "config", "validate", "--config", f).CombinedOutput(); err != nil {
		t.Errorf("kubeadm config validate: %v\n%s\n%s", err, out, conf)
	}
}

// TestIgnitionJoinWorker is the whole worker flow on the real cluster: the
// config passes the library and the real ignition-validate, its
// JoinConfiguration passes the real kubeadm, its token authenticates as a
// bootstrap token, its CA hash is kubeadm's, and real Ignition fetches it
// over HTTP and writes the files into a scratch root.
func TestIgnitionJoinWorker(t *testing.T) {
	j := clusterOnly(t)
	out := filepath.Join(t.TempDir(), "worker.ign")
	r := plugin(t, t.TempDir(), "ignition", "join", "--role", "worker", "--kubeconfig", j.kubeconfig, "--ttl", "15m", "--output-file", out)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("not quiet: stdout %q stderr %q", r.stdout, r.stderr)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("output mode %v, want 0600", fi.Mode().Perm())
	}
	_, conf, jc := readJoin(t, raw)
	bt := jc.Discovery.BootstrapToken
	id, _, _ := strings.Cut(bt.Token, ".")
	j.deleteToken(t, id)
	if jc.APIVersion != "kubeadm.k8s.io/v1beta4" {
		t.Errorf("kubeadm API %s for a v1.34 cluster", jc.APIVersion)
	}

	t.Run("ignition-validate", func(t *testing.T) {
		if b, err := exec.Command(ignitionTool(t, "ignition-validate"), out).CombinedOutput(); err != nil {
			t.Errorf("ignition-validate: %v\n%s", err, b)
		}
	})
	t.Run("kubeadm config validate", func(t *testing.T) { kubeadmValidate(t, conf) })
	t.Run("token authenticates", func(t *testing.T) {
		assertBootstrapIdentity(t, j, bt.Token)
	})
	t.Run("CA hash and endpoint are kubeadm's", func(t *testing.T) {
		hash, endpoint := kubeadmJoinCommand(t, j)
		if len(bt.CACertHashes) != 1 || bt.CACertHashes[0] != hash {
			t.Errorf("caCertHashes %v, kubeadm prints %s", bt.CACertHashes, hash)
		}
		if bt.APIServerEndpoint != endpoint {
			t.Errorf("apiServerEndpoint %s, kubeadm prints %s", bt.APIServerEndpoint, endpoint)
		}
	})
	t.Run("real Ignition applies it", func(t *testing.T) {
		root := runIgnition(t, raw)
		for path, mode := range map[string]os.FileMode{
			"etc/kubernetes/kubeadm.conf":                      0o600,
			"etc/ocne/update.yaml":                             0o400,
			"etc/containers/registries.conf":                   0o644,
			"etc/systemd/system/ocne.service.d/bootstrap.conf": 0o644,
		} {
			fi, err := os.Stat(filepath.Join(root, path))
			if err != nil {
				t.Errorf("not written: %v", err)
				continue
			}
			if fi.Mode().Perm() != mode {
				t.Errorf("%s mode %v, want %v", path, fi.Mode().Perm(), mode)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(root, "etc/kubernetes/kubeadm.conf")); string(b) != conf {
			t.Errorf("kubeadm.conf on disk differs:\n%s", b)
		}
		preset, _ := os.ReadFile(filepath.Join(root, "etc/systemd/system-preset/20-ignition.preset"))
		for _, u := range []string{"ocne.service", "crio.service", "kubelet.service", "ocne-update.service"} {
			if !strings.Contains(string(preset), "enable "+u) {
				t.Errorf("%s not enabled; preset:\n%s", u, preset)
			}
		}
	})
}

// assertBootstrapIdentity asks the API server who the token is.
func assertBootstrapIdentity(t *testing.T, j *testCluster, token string) {
	t.Helper()
	cfg := rest.AnonymousClientConfig(j.cfg)
	cfg.BearerToken = token
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(token, ".")
	ssr, err := cs.AuthenticationV1().SelfSubjectReviews().Create(context.Background(), &authv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("the token does not authenticate: %v", err)
	}
	u := ssr.Status.UserInfo
	if u.Username != "system:bootstrap:"+id || !slices.Contains(u.Groups, jointoken.DefaultGroup) {
		t.Errorf("token is %s in %v", u.Username, u.Groups)
	}
}

// kubeadmJoinCommand has the real kubeadm make a token and print its join
// command, deletes that token, and returns the CA hash and endpoint.
func kubeadmJoinCommand(t *testing.T, j *testCluster) (hash, endpoint string) {
	t.Helper()
	kubeadm := filepath.Join(os.Getenv("CLUSTER_CACHE"), "bin", "kubeadm")
	b, err := exec.Command(kubeadm, "token", "create", "--print-join-command", "--ttl", "5m", "--kubeconfig", j.kubeconfig).CombinedOutput()
	if err != nil {
		t.Fatalf("kubeadm token create: %v\n%s", err, b)
	}
	m := regexp.MustCompile(`kubeadm join (\S+) --token ([a-z0-9]{6})\.[a-z0-9]{16} --discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("unexpected kubeadm output: %s", b)
	}
	j.deleteToken(t, m[2])
	return m[3], m[1]
}

// runIgnition serves config over HTTP and runs the real Ignition's fetch
// and files stages into a scratch root, as machine.md prescribes: never
// the disks, mount or kargs stages, and no users in test configs
// (Ignition would run this host's useradd), so withoutAccounts drops them.
func runIgnition(t *testing.T, config []byte) string {
	t.Helper()
	config = withoutAccounts(t, config)
	ign := ignitionTool(t, "ignition")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/node.ign" {
			http.NotFound(w, r)
			return
		}
		w.Write(config)
	}))
	defer srv.Close()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	bin := filepath.Join(dir, "bin")
	sysdir := filepath.Join(dir, "system")
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{filepath.Join(root, "etc", "selinux"), bin, sysdir, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The files stage relabels for SELinux; this host has none.
	os.WriteFile(filepath.Join(root, "etc", "selinux", "config"), []byte("SELINUX=disabled\nSELINUXTYPE=targeted\n"), 0o644)
	os.WriteFile(filepath.Join(bin, "setfiles"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	pointer := filepath.Join(dir, "pointer.ign")
	os.WriteFile(pointer, []byte(fmt.Sprintf(`{"ignition":{"version":"3.4.0","config":{"replace":{"source":%q}}}}`, srv.URL+"/node.ign")), 0o600)
	env := append(os.Environ(), "IGNITION_CONFIG_FILE="+pointer, "IGNITION_SYSTEM_CONFIG_DIR="+sysdir, "TMPDIR="+tmp,
		"PATH="+bin+":"+os.Getenv("PATH"))
	for _, stage := range []string{"fetch", "files"} {
		cmd := exec.Command(ign, "-platform", "file", "-stage", stage, "-root", root,
			"-config-cache", filepath.Join(dir, "cache.json"), "-state-file", filepath.Join(dir, "state"),
			"-neednet", filepath.Join(dir, "neednet"), "-log-to-stdout")
		cmd.Env = env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ignition stage %s: %v\n%s", stage, err, b)
		}
	}
	return root
}

// TestIgnitionJoinControlPlane: a fresh certificate key in the config and
// in the printed upload-certs command, a KubeProxyConfiguration document,
// and a configuration the real kubeadm accepts once the node has put its
// address in.
func TestIgnitionJoinControlPlane(t *testing.T) {
	j := clusterOnly(t)
	cfgFile := filepath.Join(t.TempDir(), "cluster.yaml")
	os.WriteFile(cfgFile, []byte("kubeProxyMode: ipvs\nkubeApiServerBindPort: 6444\nproviders:\n  byo:\n    networkInterface: enp2s0\n"), 0o644)
	r := plugin(t, t.TempDir(), "ignition", "join", "--role", "control-plane", "--kubeconfig", j.kubeconfig, "-c", cfgFile,
		"--api-server", "cp.example.com", "--ttl", "15m")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	cfg, conf, jc := readJoin(t, []byte(r.stdout))
	id, _, _ := strings.Cut(jc.Discovery.BootstrapToken.Token, ".")
	j.deleteToken(t, id)
	if jc.ControlPlane == nil || len(jc.ControlPlane.CertificateKey) != 64 {
		t.Fatalf("no certificate key: %s", conf)
	}
	want := "kubeadm init phase upload-certs --upload-certs --certificate-key " + jc.ControlPlane.CertificateKey
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not give %q:\n%s", want, r.stderr)
	}
	for _, w := range []string{"kind: KubeProxyConfiguration", "mode: ipvs", "bindPort: 6444", "apiServerEndpoint: cp.example.com:6444"} {
		if !strings.Contains(conf, w) {
			t.Errorf("kubeadm.conf lacks %q:\n%s", w, conf)
		}
	}
	for _, u := range cfg.Systemd.Units {
		if u.Name == "ocne.service" && !strings.Contains(*u.Dropins[0].Contents, "NET_INTERFACE=enp2s0") {
			t.Errorf("bootstrap.conf %q", *u.Dropins[0].Contents)
		}
	}
	kubeadmValidate(t, strings.ReplaceAll(conf, "NODE_IP", "192.0.2.10"))

	// A second run: a different key every time.
	r2 := plugin(t, t.TempDir(), "ignition", "join", "--role", "control-plane", "--kubeconfig", j.kubeconfig, "--ttl", "15m")
	if r2.code != 0 {
		t.Fatalf("exit %d: %s", r2.code, r2.stderr)
	}
	_, _, jc2 := readJoin(t, []byte(r2.stdout))
	id2, _, _ := strings.Cut(jc2.Discovery.BootstrapToken.Token, ".")
	j.deleteToken(t, id2)
	if jc2.ControlPlane.CertificateKey == jc.ControlPlane.CertificateKey {
		t.Error("the certificate key was reused")
	}
}

// TestIgnitionJoinTokenOnlyPrint: nothing is created; the printed command,
// run with the real kubeadm, makes the very token in the config.
func TestIgnitionJoinTokenOnlyPrint(t *testing.T) {
	j := clusterOnly(t)
	before := j.ourTokens(t)
	r := plugin(t, t.TempDir(), "ignition", "join", "--kubeconfig", j.kubeconfig, "--token-only-print", "--ttl", "10m")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if after := j.ourTokens(t); len(after) != len(before) {
		t.Errorf("a token was created: %v", after)
	}
	_, _, jc := readJoin(t, []byte(r.stdout))
	token := jc.Discovery.BootstrapToken.Token
	id, _, _ := strings.Cut(token, ".")
	m := regexp.MustCompile(`(?m)^\s+(kubeadm token create .*)$`).FindStringSubmatch(r.stderr)
	if m == nil || !strings.Contains(m[1], token) {
		t.Fatalf("no kubeadm command for %s in: %s", token, r.stderr)
	}
	j.deleteToken(t, id)
	args := append(strings.Fields(strings.TrimPrefix(m[1], "kubeadm ")), "--kubeconfig", j.kubeconfig)
	// The description is quoted for a shell.
	cmdline := strings.Join(args, " ")
	cmd := exec.Command("sh", "-c", filepath.Join(os.Getenv("CLUSTER_CACHE"), "bin", "kubeadm")+" "+cmdline)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the printed command fails: %v\n%s", err, b)
	}
	assertBootstrapIdentity(t, j, token)
}

// TestIgnitionJoinClusterInfo: a kubeconfig without the CA (insecure) is
// no problem while kube-public/cluster-info publishes endpoint and CA.
func TestIgnitionJoinClusterInfo(t *testing.T) {
	j := clusterOnly(t)
	ctx := context.Background()
	raw, err := clientcmd.LoadFromFile(j.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var server string
	var caData []byte
	for _, c := range raw.Clusters {
		server, caData = c.Server, c.CertificateAuthorityData
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"}}
	pub := clientcmdapi.NewConfig()
	pub.Clusters[""] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caData}
	b, _ := clientcmd.Write(*pub)
	cm.Data = map[string]string{"kubeconfig": string(b)}
	_, err = j.cs.CoreV1().ConfigMaps("kube-public").Create(ctx, cm, metav1.CreateOptions{})
	switch {
	case err == nil:
		t.Cleanup(func() {
			j.cs.CoreV1().ConfigMaps("kube-public").Delete(context.Background(), "cluster-info", metav1.DeleteOptions{})
		})
	case apierrors.IsAlreadyExists(err): // the cluster publishes its own
	default:
		t.Fatal(err)
	}
	insecure := kubeconfigWithoutCA(t, j.kubeconfig)
	r := plugin(t, t.TempDir(), "ignition", "join", "--kubeconfig", insecure, "--ttl", "10m", "-v")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	_, _, jc := readJoin(t, []byte(r.stdout))
	id, _, _ := strings.Cut(jc.Discovery.BootstrapToken.Token, ".")
	j.deleteToken(t, id)
	if !strings.Contains(r.stderr, "from cluster-info") {
		t.Errorf("not from cluster-info: %s", r.stderr)
	}
	blk, _ := pem.Decode(caData)
	ca, _ := x509.ParseCertificate(blk.Bytes)
	want := jointoken.Cluster{CAs: []*x509.Certificate{ca}}.CAHashes()
	if got := jc.Discovery.BootstrapToken.CACertHashes; len(got) != 1 || got[0] != want[0] {
		t.Errorf("caCertHashes %v, want %v", got, want)
	}
}

// kubeconfigWithoutCA is the admin kubeconfig with the CA dropped and TLS
// verification off.
func kubeconfigWithoutCA(t *testing.T, kubeconfig string) string {
	t.Helper()
	raw, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range raw.Clusters {
		c.CertificateAuthorityData, c.CertificateAuthority, c.InsecureSkipTLSVerify = nil, "", true
	}
	p := filepath.Join(t.TempDir(), "insecure.conf")
	if err := clientcmd.WriteToFile(*raw, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestIgnitionJoinBadInput: one clear line, the right exit code, no file
// and no token left behind.
func TestIgnitionJoinBadInput(t *testing.T) {
	j := clusterOnly(t)
	ctx := context.Background()
	ns := "ocne-ign-forbidden-test"
	if _, err := j.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	if _, err := j.cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tok, err := j.cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "nobody", &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := clientcmd.LoadFromFile(j.kubeconfig)
	for _, a := range raw.AuthInfos {
		a.ClientCertificate, a.ClientKey, a.ClientCertificateData, a.ClientKeyData = "", "", nil, nil
		a.Token = tok.Status.Token
	}
	nobody := filepath.Join(t.TempDir(), "nobody.conf")
	if err := clientcmd.WriteToFile(*raw, nobody); err != nil {
		t.Fatal(err)
	}
	badJSON := filepath.Join(t.TempDir(), "extra.ign")
	os.WriteFile(badJSON, []byte(`{"ignition": {"version": "3.4.0"}, "storage": `), 0o644)
	badButane := filepath.Join(t.TempDir(), "extra.bu")
	os.WriteFile(badButane, []byte("variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n  - path: relative/path\n"), 0o644)
	closed := fmt.Sprintf("https://127.0.0.1:%d", harness.FreePort(t))

	hasClusterInfo := true
	if _, err := j.cs.CoreV1().ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		hasClusterInfo = false
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
		skip     bool
	}{
		{"no kubeconfig", nil, 1, "no cluster", false},
		{"no cluster answers", []string{"--server", closed, "--insecure-skip-tls-verify"}, 1, "does not answer", false},
		{"no cluster yet: a hint at init", []string{"--server", closed, "--insecure-skip-tls-verify"}, 1, "`ignition init --workers N`", false},
		{"RBAC forbids secrets", []string{"--kubeconfig", nobody}, 1, "not allowed to create secrets in kube-system", false},
		{"endpoint cannot be determined", []string{"--kubeconfig", kubeconfigWithoutCA(t, j.kubeconfig)}, 1, "cannot determine the API server endpoint", hasClusterInfo},
		{"extra ignition not JSON", []string{"--kubeconfig", j.kubeconfig, "--extra-ignition", badJSON}, 2, "not valid JSON", false},
		{"extra butane invalid", []string{"--kubeconfig", j.kubeconfig, "--extra-ignition", badButane}, 2, "extra.bu: ", false},
		{"extra ignition missing", []string{"--kubeconfig", j.kubeconfig, "--extra-ignition", "/nonexistent.ign"}, 2, "no such file", false},
		{"bad role", []string{"--kubeconfig", j.kubeconfig, "--role", "master"}, 2, "invalid --role", false},
		{"bad ignition version", []string{"--kubeconfig", j.kubeconfig, "--ignition-version", "2.2.0"}, 2, "unsupported --ignition-version", false},
		{"plain password", []string{"--kubeconfig", j.kubeconfig, "--password-hash", "secret"}, 2, "not a crypt(3) hash", false},
		{"upload-certs for a worker", []string{"--kubeconfig", j.kubeconfig, "--upload-certs"}, 2, "control-plane", false},
		{"bad api server", []string{"--kubeconfig", j.kubeconfig, "--api-server", "a b"}, 2, "--api-server", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip {
				t.Skip("the cluster publishes kube-public/cluster-info")
			}
			j.refusedJoin(t, tt.wantCode, tt.wantMsg, tt.args...)
		})
	}
}

// refusedJoin runs `ignition join --output-file FILE args...` and checks that it
// fails with one line holding msg and exit code, leaving no file and no
// token.
func (j *testCluster) refusedJoin(t *testing.T, code int, msg string, args ...string) {
	t.Helper()
	before := j.ourTokens(t)
	dir := t.TempDir()
	r := plugin(t, t.TempDir(), append([]string{"ignition", "join", "--output-file", filepath.Join(dir, "node.ign")}, args...)...)
	if r.code != code || !strings.Contains(r.stderr, msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("exit %d, want %d with %q; stderr %q", r.code, code, msg, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
	if after := j.ourTokens(t); len(after) != len(before) {
		t.Errorf("tokens before %v, after %v", before, after)
	}
}

// TestUploadCerts runs the --upload-certs pod on the real cluster: the
// node's own kubeadm (here the cluster's, and its PKI in a directory laid
// out as /etc/kubernetes) encrypts the CA keys into kube-system/kubeadm-certs
// under our key; the pod and the Secret carrying the key are deleted.
func TestUploadCerts(t *testing.T) {
	c := needCluster(t)
	ctx := context.Background()
	nodes, err := c.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) == 0 {
		t.Fatalf("nodes: %v", err)
	}
	state := filepath.Join(os.Getenv("CLUSTER_CACHE"), "state")
	kdir := filepath.Join(t.TempDir(), "kubernetes")
	os.MkdirAll(filepath.Join(kdir, "pki"), 0o700)
	copyFile(t, c.kubeconfig, filepath.Join(kdir, "admin.conf"))
	for _, f := range []string{"ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key"} {
		copyFile(t, filepath.Join(state, "pki", f), filepath.Join(kdir, "pki", f))
	}
	t.Cleanup(func() { cleanupKubeadmCerts(t, c.cs) })
	key, err := certupload.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	err = certupload.Upload(ctx, c.cs, certupload.Options{Key: key, Image: c.builder, Node: nodes.Items[0].Name,
		Kubeadm: filepath.Join(os.Getenv("CLUSTER_CACHE"), "bin", "kubeadm"), KubernetesDir: kdir, Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.cs.CoreV1().Secrets("kube-system").Get(ctx, "kubeadm-certs", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("no kubeadm-certs: %v", err)
	}
	want, _ := os.ReadFile(filepath.Join(kdir, "pki", "ca.key"))
	if got := decryptKubeadmCert(t, key, s.Data["ca.key"]); string(got) != string(want) {
		t.Error("kubeadm-certs ca.key does not decrypt to the CA key with our certificate key")
	}
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=ocne-image,app.kubernetes.io/component=upload-certs"}
	pods, _ := c.cs.CoreV1().Pods("kube-system").List(ctx, sel)
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			t.Errorf("pod %s left", p.Name)
		}
	}
	if secrets, _ := c.cs.CoreV1().Secrets("kube-system").List(ctx, sel); len(secrets.Items) != 0 {
		t.Errorf("key Secret left: %s", secrets.Items[0].Name)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// decryptKubeadmCert undoes kubeadm's AES-GCM (nonce first) encryption.
func decryptKubeadmCert(t *testing.T, hexKey string, data []byte) []byte {
	t.Helper()
	key, _ := hex.DecodeString(hexKey)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, _ := cipher.NewGCM(block)
	if len(data) < gcm.NonceSize() {
		t.Fatalf("ciphertext of %d bytes", len(data))
	}
	out, err := gcm.Open(nil, data[:gcm.NonceSize()], data[gcm.NonceSize():], nil)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	return out
}

// cleanupKubeadmCerts removes what upload-certs leaves in the shared
// cluster: the Secret, the token that owns it, and kubeadm's RBAC for it.
func cleanupKubeadmCerts(t *testing.T, cs kubernetes.Interface) {
	ctx := context.Background()
	if s, err := cs.CoreV1().Secrets("kube-system").Get(ctx, "kubeadm-certs", metav1.GetOptions{}); err == nil {
		for _, o := range s.OwnerReferences {
			cs.CoreV1().Secrets("kube-system").Delete(ctx, o.Name, metav1.DeleteOptions{})
		}
	}
	cs.CoreV1().Secrets("kube-system").Delete(ctx, "kubeadm-certs", metav1.DeleteOptions{})
	cs.RbacV1().RoleBindings("kube-system").Delete(ctx, "kubeadm:kubeadm-certs", metav1.DeleteOptions{})
	cs.RbacV1().Roles("kube-system").Delete(ctx, "kubeadm:kubeadm-certs", metav1.DeleteOptions{})
}

// TestIgnitionJoinPublish: join --publish dir writes the config into the
// Ignition directory `podman-ocne serve` serves, and the URL it prints
// answers with that config, as a node would fetch it.
func TestIgnitionJoinPublish(t *testing.T) {
	j := clusterOnly(t)
	archive := sampleServerArchive(t)
	eachPodman(t, func(t *testing.T, _ *harness.Podman, url string) {
		home := t.TempDir()
		if r := helper(t, home, url, "load", "--file", archive); r.code != 0 {
			t.Fatalf("load: %s", r.stderr)
		}
		ignDir := filepath.Join(t.TempDir(), "ignition")
		port := harness.FreePort(t)
		if r := helper(t, home, url, "serve", "--name", "ock-publish", "--port", strconv.Itoa(port),
			"--advertise-address", "127.0.0.1", "--ignition-dir", ignDir); r.code != 0 {
			t.Fatalf("serve: %s", r.stderr)
		}
		t.Cleanup(func() { helper(t, home, url, "stop", "--name", "ock-publish") })
		base := fmt.Sprintf("http://127.0.0.1:%d/ignition", port)

		r := plugin(t, t.TempDir(), "ignition", "join", "--kubeconfig", j.kubeconfig, "--ttl", "10m",
			"--publish", "dir", "--publish-opt", "dir="+ignDir, "--publish-opt", "base-url="+base)
		if r.code != 0 {
			t.Fatalf("join --publish: exit %d: %s", r.code, r.stderr)
		}
		published := strings.TrimSpace(r.stdout)
		if !strings.HasPrefix(published, base+"/") || strings.Contains(published, "\n") {
			t.Fatalf("printed %q, want one URL under %s", r.stdout, base)
		}
		_, _, jc := readJoin(t, []byte(get(t, published, 200)))
		id, _, _ := strings.Cut(jc.Discovery.BootstrapToken.Token, ".")
		j.deleteToken(t, id)
		files, _ := os.ReadDir(ignDir)
		for _, f := range files {
			if fi, _ := f.Info(); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", f.Name(), fi.Mode().Perm())
			}
		}
	})

	t.Run("bad backend leaves no token", func(t *testing.T) {
		for _, args := range [][]string{
			{"--publish", "no-such-backend"},
			{"--publish", "dir"}, // no dir= option
		} {
			before := j.ourTokens(t)
			r := plugin(t, t.TempDir(), append([]string{"ignition", "join", "--kubeconfig", j.kubeconfig}, args...)...)
			if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
			}
			if after := j.ourTokens(t); len(after) != len(before) {
				t.Errorf("%v: tokens before %v, after %v", args, before, after)
			}
		}
	})
}
