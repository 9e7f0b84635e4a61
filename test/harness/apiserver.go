package harness

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// APIServer is a real kube-apiserver (with its own etcd) serving
// certificates from a kubeadm PKI directory: the test cluster's control
// plane without a node, for proving that a PKI made elsewhere (ignition
// init's) is one a real API server runs with.
type APIServer struct {
	// URL is https://127.0.0.1:PORT; the serving certificate is kubeadm's,
	// so clients check it as "kubernetes".
	URL string
}

// StartAPIServer runs etcd and kube-apiserver (from bin, the cluster
// harness's binaries) on free loopback ports with the certificates and
// service-account keys in pki (kubeadm's layout: `kubeadm init phase
// certs all` writes it). Both are stopped at cleanup.
func StartAPIServer(t *testing.T, bin, pki, serviceCIDR string) *APIServer {
	t.Helper()
	dir := t.TempDir()
	client, peer, port := FreePort(t), FreePort(t), FreePort(t)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	StartServer(t, "etcd", exec.Command("etcd", "--name", "init-test", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "init-test="+peerURL, "--initial-cluster-state", "new"), filepath.Join(dir, "etcd.log"), "")
	WaitHTTP(t, etcdURL+"/health", 30*time.Second)
	p := func(name string) string { return filepath.Join(pki, name) }
	StartServer(t, "kube-apiserver", exec.Command(filepath.Join(bin, "kube-apiserver"),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(port),
		"--authorization-mode=Node,RBAC", "--enable-bootstrap-token-auth=true",
		"--client-ca-file="+p("ca.crt"), "--tls-cert-file="+p("apiserver.crt"), "--tls-private-key-file="+p("apiserver.key"),
		"--etcd-servers="+etcdURL,
		"--kubelet-client-certificate="+p("apiserver-kubelet-client.crt"), "--kubelet-client-key="+p("apiserver-kubelet-client.key"),
		"--proxy-client-cert-file="+p("front-proxy-client.crt"), "--proxy-client-key-file="+p("front-proxy-client.key"),
		"--requestheader-client-ca-file="+p("front-proxy-ca.crt"), "--requestheader-allowed-names=front-proxy-client",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+p("sa.pub"), "--service-account-signing-key-file="+p("sa.key"),
		"--service-cluster-ip-range="+serviceCIDR), filepath.Join(dir, "apiserver.log"), "")
	s := &APIServer{URL: "https://127.0.0.1:" + strconv.Itoa(port)}
	s.waitReady(t, p("ca.crt"))
	return s
}

// waitReady polls /readyz, trusting only the cluster CA: the server's
// certificate must be one our CA signed.
func (s *APIServer) waitReady(t *testing.T, caFile string) {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "kubernetes"}}}
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := c.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			// Anonymous may read /readyz once the RBAC bootstrap roles,
			// one of its checks, are in.
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("kube-apiserver not ready at %s: %s", s.URL, last)
}
