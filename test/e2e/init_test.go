package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/ocne-image/ocne-image/shared/jointoken"
	"github.com/ocne-image/ocne-image/test/harness"
)

// kubeBin is one of the cluster harness's Kubernetes binaries.
func kubeBin(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(os.Getenv("CLUSTER_CACHE"), "bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s missing: set CLUSTER_CACHE (make test does)", p)
	}
	return p
}

// initConfig is the part of kubeadm.conf's InitConfiguration and
// ClusterConfiguration the tests read.
type initConfig struct {
	BootstrapTokens []struct {
		Token string
		TTL   string
	}
	LocalAPIEndpoint struct{ BindPort int }
	NodeRegistration struct{ Taints *[]any }
	CertificateKey   string
	SkipPhases       []string
}

type clusterConfiguration struct {
	Kind                 string
	ControlPlaneEndpoint string
	KubernetesVersion    string
	ImageRepository      string
}

// TestIgnitionInit: a cluster from nothing. The first node's config
// passes ignition-validate, real Ignition and the real kubeadm; kubeadm's
// own certificate phases run on our CA; a real kube-apiserver serves with
// that PKI, and `ignition join` against it, through the admin kubeconfig
// init wrote, yields a token that authenticates and the CA hash the
// workers init wrote carry.
func TestIgnitionInit(t *testing.T) {
	kubeadm := kubeBin(t, "kubeadm")
	home, dir := t.TempDir(), t.TempDir()
	cfgFile := filepath.Join(dir, "cluster.yaml")
	os.WriteFile(cfgFile, []byte("name: demo\nkubernetesVersion: 1.33\nvirtualIp: 192.0.2.100\nregistry: mirror.example.com\n"+
		"sshPublicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq2 test\nproviders:\n  byo:\n    networkInterface: enp1s0\n"+
		"certificateInformation:\n  org: Example\n"), 0o644)
	out := filepath.Join(dir, "cp1.ign")
	r := plugin(t, home, "ignition", "init", "-c", cfgFile, "--output-file", out, "--workers", "2")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	kubeconfig := filepath.Join(home, ".kube", "kubeconfig.demo")
	if r.stdout != "" || strings.TrimSpace(r.stderr) != "Once the first node is up: export KUBECONFIG="+kubeconfig {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
	pki := filepath.Join(home, ".ocne", "clusters", "demo", "pki")
	for path, mode := range map[string]os.FileMode{
		out: 0o600, filepath.Join(dir, "worker-1.ign"): 0o600, filepath.Join(dir, "worker-2.ign"): 0o600, kubeconfig: 0o600,
		filepath.Join(pki, "ca.crt"): 0o600, filepath.Join(pki, "ca.key"): 0o600, pki: 0o700 | os.ModeDir,
	} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v, want mode %v", path, fi, mode)
		}
	}
	caPEM, _ := os.ReadFile(filepath.Join(pki, "ca.crt"))
	keyPEM, _ := os.ReadFile(filepath.Join(pki, "ca.key"))
	ca := parseCert(t, caPEM)
	// certificateInformation, with ocne's defaults for the rest.
	if got := ca.Subject.String(); got != "CN=kubernetes,OU=OCNE,O=Example,ST=TX,C=US" {
		t.Errorf("CA subject %s", got)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)

	raw, _ := os.ReadFile(out)
	first := index(t, joinCase{role: "control-plane"}, raw)
	conf := first.data["/etc/kubernetes/kubeadm.conf"]
	docs := strings.Split(conf, "\n---\n")
	var ic initConfig
	var cc clusterConfiguration
	if len(docs) != 2 || yaml.Unmarshal([]byte(docs[0]), &ic) != nil || yaml.Unmarshal([]byte(docs[1]), &cc) != nil {
		t.Fatalf("kubeadm.conf:\n%s", conf)
	}
	t.Run("first node's config", func(t *testing.T) {
		if b, err := exec.Command(ignitionTool(t, "ignition-validate"), out).CombinedOutput(); err != nil {
			t.Errorf("ignition-validate: %v\n%s", err, b)
		}
		if first.data["/etc/kubernetes/pki/ca.crt"] != string(caPEM) || first.data["/etc/kubernetes/pki/ca.key"] != string(keyPEM) {
			t.Error("the CA in the config is not the one in --pki-dir")
		}
		if env := environment(*first.units["ocne.service"].Dropins[0].Contents); env["ACTION"] != "init" || env["NET_INTERFACE"] != "enp1s0" {
			t.Errorf("bootstrap.conf %v", env)
		}
		// Behind the virtual IP: the API server on the Alt port, nginx on 6443.
		if ic.LocalAPIEndpoint.BindPort != 6444 || cc.ControlPlaneEndpoint != "192.0.2.100:6443" || !strings.Contains(first.data["/etc/ocne/nginx/nginx.conf"], "listen 6443;") {
			t.Errorf("bindPort %d, endpoint %s", ic.LocalAPIEndpoint.BindPort, cc.ControlPlaneEndpoint)
		}
		if cc.KubernetesVersion != "1.33.5" || cc.ImageRepository != "mirror.example.com/olcne" || len(ic.CertificateKey) != 64 {
			t.Errorf("ClusterConfiguration %+v, certificate key %q", cc, ic.CertificateKey)
		}
		if !slices.Equal(ic.SkipPhases, []string{"addon/kube-proxy", "addon/coredns", "preflight"}) || ic.NodeRegistration.Taints != nil {
			t.Errorf("skipPhases %v, taints %v (workers are coming: kubeadm's taint)", ic.SkipPhases, ic.NodeRegistration.Taints)
		}
		kubeadmValidate(t, strings.ReplaceAll(conf, "NODE_IP", "192.0.2.10"))
		root := runIgnition(t, raw)
		for path, mode := range map[string]os.FileMode{
			"etc/kubernetes/kubeadm.conf": 0o600, "etc/kubernetes/pki/ca.crt": 0o600, "etc/kubernetes/pki/ca.key": 0o600,
			"etc/ocne/update.yaml": 0o400, "etc/keepalived/keepalived.conf": 0o644, "etc/ocne/nginx/start_ocne_nginx": 0o755,
		} {
			if fi, err := os.Stat(filepath.Join(root, path)); err != nil || fi.Mode().Perm() != mode {
				t.Errorf("%s: %v, want %v", path, err, mode)
			}
		}
		if fi, err := os.Stat(filepath.Join(root, "etc/ocne/ock/patches")); err != nil || !fi.IsDir() {
			t.Errorf("patches directory: %v", err)
		}
	})

	// kubeadm's certificate phases on our CA, as the first node runs them.
	scratch := t.TempDir()
	certs := filepath.Join(scratch, "pki")
	os.MkdirAll(certs, 0o700)
	os.WriteFile(filepath.Join(certs, "ca.crt"), caPEM, 0o600)
	os.WriteFile(filepath.Join(certs, "ca.key"), keyPEM, 0o600)
	nodeConf := filepath.Join(scratch, "kubeadm.conf")
	os.WriteFile(nodeConf, []byte(strings.ReplaceAll(conf, "NODE_IP", "192.0.2.10")+"certificatesDir: "+certs+"\n"), 0o600)
	for _, phase := range [][]string{{"certs", "all"}, {"kubeconfig", "admin"}, {"kubeconfig", "super-admin"}} {
		args := append(append([]string{"init", "phase"}, phase...), "--config", nodeConf)
		if phase[0] == "kubeconfig" {
			args = append(args, "--kubeconfig-dir", scratch)
		}
		if b, err := exec.Command(kubeadm, args...).CombinedOutput(); err != nil {
			t.Fatalf("kubeadm %v: %v\n%s", args, err, b)
		}
	}
	t.Run("kubeadm signs with our CA", func(t *testing.T) {
		// (etcd's certificates are signed by etcd's own CA, which kubeadm makes.)
		for _, name := range []string{"apiserver.crt", "apiserver-kubelet-client.crt"} {
			b, _ := os.ReadFile(filepath.Join(certs, name))
			if _, err := parseCert(t, b).Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		// kubeadm's admin.conf and ours: the same CA, user and group.
		for _, kc := range []string{filepath.Join(scratch, "admin.conf"), kubeconfig} {
			cfg, err := clientcmd.LoadFromFile(kc)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cfg.Clusters {
				if string(c.CertificateAuthorityData) != string(caPEM) {
					t.Errorf("%s: another CA", kc)
				}
			}
			for _, a := range cfg.AuthInfos {
				cert := parseCert(t, a.ClientCertificateData)
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
					t.Errorf("%s: %v", kc, err)
				}
				if cert.Subject.CommonName != "kubernetes-admin" || !slices.Equal(cert.Subject.Organization, []string{"kubeadm:cluster-admins"}) {
					t.Errorf("%s: %s", kc, cert.Subject)
				}
			}
		}
	})

	// A real API server with that PKI.
	api := harness.StartAPIServer(t, filepath.Join(os.Getenv("CLUSTER_CACHE"), "bin"), certs, "10.96.0.0/12")
	local := func(kc string) string {
		cfg, err := clientcmd.LoadFromFile(kc)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cfg.Clusters {
			c.Server, c.TLSServerName = api.URL, "kubernetes"
		}
		p := filepath.Join(t.TempDir(), "kubeconfig")
		if err := clientcmd.WriteToFile(*cfg, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// What kubeadm init does on the node: admin.conf's group may administer.
	super, err := clientcmd.BuildConfigFromFlags("", local(filepath.Join(scratch, "super-admin.conf")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = kubernetes.NewForConfigOrDie(super).RbacV1().ClusterRoleBindings().Create(context.Background(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:cluster-admins"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "Group", Name: "kubeadm:cluster-admins", APIGroup: "rbac.authorization.k8s.io"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("join against the API server", func(t *testing.T) {
		ours := local(kubeconfig)
		r := plugin(t, t.TempDir(), "ignition", "join", "--kubeconfig", ours, "--api-server", "192.0.2.100:6443", "--ttl", "10m")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		_, _, jc := readJoin(t, []byte(r.stdout))
		cfg, _ := clientcmd.BuildConfigFromFlags("", ours)
		assertBootstrapIdentity(t, &testCluster{cfg: cfg}, jc.Discovery.BootstrapToken.Token)
		want := jointoken.Cluster{CAs: []*x509.Certificate{ca}}.CAHashes()
		if got := jc.Discovery.BootstrapToken.CACertHashes; !slices.Equal(got, want) {
			t.Errorf("caCertHashes %v, want %v", got, want)
		}
		// The workers init wrote carry the same hash, the endpoint, and
		// tokens kubeadm init creates.
		for i, w := range []string{"worker-1.ign", "worker-2.ign"} {
			b, _ := os.ReadFile(filepath.Join(dir, w))
			_, wconf, wjc := readJoin(t, b)
			bt := wjc.Discovery.BootstrapToken
			if !slices.Equal(bt.CACertHashes, want) || bt.APIServerEndpoint != "192.0.2.100:6443" || wjc.ControlPlane != nil {
				t.Errorf("%s: %+v", w, bt)
			}
			if len(ic.BootstrapTokens) != 2 || ic.BootstrapTokens[i].Token != bt.Token || ic.BootstrapTokens[i].TTL != "24h0m0s" {
				t.Errorf("%s: token %s not among the InitConfiguration's %+v", w, bt.Token, ic.BootstrapTokens)
			}
			kubeadmValidate(t, wconf)
		}
	})
}

// TestIgnitionInitPublish: with --publish, the configs go to the backend
// and their URLs are printed, one line each; nothing is written locally
// but the CA and the kubeconfig.
func TestIgnitionInitPublish(t *testing.T) {
	home, ignDir := t.TempDir(), t.TempDir()
	cfg := writeTemp(t, "name: pub\nloadBalancer: lb.example.com\n")
	base := "http://192.0.2.5:8080/ignition"
	r := plugin(t, home, "ignition", "init", "-c", cfg, "--workers", "2", "--publish", "dir", "--publish-opt", "dir="+ignDir, "--publish-opt", "base-url="+base)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("printed %q, want three lines", r.stdout)
	}
	for i, want := range []string{"control-plane-1", "worker-1", "worker-2"} {
		name, url, _ := strings.Cut(lines[i], "\t")
		if name != want || !strings.HasPrefix(url, base+"/") {
			t.Errorf("line %d: %q", i, lines[i])
		}
		b, err := os.ReadFile(filepath.Join(ignDir, strings.TrimPrefix(url, base+"/")))
		if err != nil {
			t.Fatalf("%s not published: %v", url, err)
		}
		role := "worker"
		if i == 0 {
			role = "control-plane"
		}
		if j := index(t, joinCase{role: role}, b); !strings.Contains(*j.units["ocne.service"].Dropins[0].Contents, "ACTION="+map[bool]string{true: "init", false: "join"}[i == 0]) {
			t.Errorf("%s: wrong ACTION", want)
		}
	}
	if entries, _ := os.ReadDir("."); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), "worker-") }) {
		t.Error("worker files written beside the test without --workers-dir")
	}
}

func parseCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("no PEM certificate in %q", b)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestIgnitionInitBadInput: one line, non-zero, and nothing left: no
// half-written CA, no configs, no kubeconfig.
func TestIgnitionInitBadInput(t *testing.T) {
	base := "name: demo\nproviders:\n  byo:\n    networkInterface: enp1s0\n"
	otherCA := t.TempDir()
	// A CA whose key belongs to another.
	r1 := plugin(t, t.TempDir(), "ignition", "init", "-c", writeTemp(t, base+"loadBalancer: lb.example.com\n"), "--pki-dir", filepath.Join(otherCA, "a"), "--output-file", filepath.Join(t.TempDir(), "x.ign"))
	r2 := plugin(t, t.TempDir(), "ignition", "init", "-c", writeTemp(t, base+"loadBalancer: lb.example.com\n"), "--pki-dir", filepath.Join(otherCA, "b"), "--output-file", filepath.Join(t.TempDir(), "x.ign"))
	if r1.code != 0 || r2.code != 0 {
		t.Fatalf("%s %s", r1.stderr, r2.stderr)
	}
	mismatched := filepath.Join(otherCA, "mismatched")
	os.MkdirAll(mismatched, 0o700)
	copyFile(t, filepath.Join(otherCA, "a", "ca.crt"), filepath.Join(mismatched, "ca.crt"))
	copyFile(t, filepath.Join(otherCA, "b", "ca.key"), filepath.Join(mismatched, "ca.key"))
	halfCA := filepath.Join(otherCA, "half")
	os.MkdirAll(halfCA, 0o700)
	copyFile(t, filepath.Join(otherCA, "a", "ca.crt"), filepath.Join(halfCA, "ca.crt"))

	tests := []struct {
		name, yaml string
		flags      []string
		code       int
		msg        string
	}{
		{"neither virtual IP nor load balancer", base, nil, 2, "needs virtualIp or loadBalancer"},
		{"both", base + "virtualIp: 192.0.2.1\nloadBalancer: lb.example.com\n", nil, 2, "both set"},
		{"overlapping subnets", base + "loadBalancer: lb.example.com\npodSubnet: 10.96.0.0/16\n", nil, 2, "overlaps serviceSubnet"},
		{"no OCK image for the version", base + "loadBalancer: lb.example.com\nkubernetesVersion: 1.34\n", nil, 2, "no OCK image exists for Kubernetes 1.34"},
		{"no name", "loadBalancer: lb.example.com\n", nil, 2, "name the cluster"},
		{"CA key of another CA", base + "loadBalancer: lb.example.com\n", []string{"--pki-dir", mismatched}, 1, "ca.key does not belong to ca.crt"},
		{"half a CA", base + "loadBalancer: lb.example.com\n", []string{"--pki-dir", halfCA}, 1, "half there"},
		{"kubeconfig under a file", base + "loadBalancer: lb.example.com\n", []string{"--admin-kubeconfig", "/proc/version/kubeconfig"}, 2, "--admin-kubeconfig"},
		// Found out last, after the CA and the configs: all undone.
		{"unwritable kubeconfig", base + "loadBalancer: lb.example.com\n", []string{"--admin-kubeconfig", "/proc/ocne-kubeconfig"}, 1, "--admin-kubeconfig"},
		{"kubeconfig exists", base + "loadBalancer: lb.example.com\n", []string{"--admin-kubeconfig", cfgExists(t)}, 2, "exists"},
		{"osRegistry with a tag", base + "loadBalancer: lb.example.com\nosRegistry: r.example.com/ock:1.33\n", nil, 2, "carries a tag"},
	}
	if r := plugin(t, t.TempDir(), "ignition", "init"); r.code != 2 || !strings.Contains(r.stderr, "--config is required") {
		t.Errorf("no --config: exit %d: %s", r.code, r.stderr)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, out := t.TempDir(), t.TempDir()
			args := append([]string{"ignition", "init", "-c", writeTemp(t, tt.yaml), "--output-file", filepath.Join(out, "cp.ign"), "--workers", "1"}, tt.flags...)
			r := plugin(t, home, args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("exit %d, want %d with %q; stderr %q", r.code, tt.code, tt.msg, r.stderr)
			}
			for _, d := range []string{out, home} {
				var left []string
				filepath.Walk(d, func(p string, fi os.FileInfo, _ error) error {
					if p != d && !fi.IsDir() {
						left = append(left, p)
					}
					return nil
				})
				if len(left) != 0 {
					t.Errorf("left behind: %v", left)
				}
			}
			if _, err := os.Stat(filepath.Join(home, ".ocne", "clusters", "demo", "pki")); err == nil {
				t.Error("a CA directory was left")
			}
		})
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func cfgExists(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(p, []byte("apiVersion: v1\nkind: Config\n"), 0o600)
	return p
}
