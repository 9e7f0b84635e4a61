package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Matchbox is a real matchbox server (v0.11.0, built by `make test` into
// .cache/tools/matchbox) with a gRPC API behind mutual TLS.
type Matchbox struct {
	HTTP     string // http://127.0.0.1:PORT, what nodes fetch from
	Endpoint string // 127.0.0.1:PORT, the gRPC API
	// Client credentials for the API: PEM files.
	CAFile, CertFile, KeyFile string
	// Data is matchbox's -data-path.
	Data string
}

// Options returns the matchbox plugin's options for this server.
func (m *Matchbox) Options() map[string]string {
	return map[string]string{"endpoint": m.Endpoint, "http-url": m.HTTP, "ca-file": m.CAFile, "cert-file": m.CertFile, "key-file": m.KeyFile}
}

// StartMatchbox runs matchbox with freshly generated certificates.
func StartMatchbox(t *testing.T) *Matchbox {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), ".cache", "tools", "matchbox")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run `make .cache/tools/matchbox` (make test does)", bin)
	}
	dir := t.TempDir()
	m := &Matchbox{Data: filepath.Join(dir, "data")}
	// The data layout matchbox's install docs create.
	for _, d := range []string{"data/groups", "data/profiles", "data/ignition", "data/generic", "assets"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ca, caKey := newCert(t, "ocne-test-ca", nil, nil, true)
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", ca.Raw)
	server, serverKey := newCert(t, "127.0.0.1", ca, caKey, false)
	writePEM(t, filepath.Join(dir, "server.crt"), "CERTIFICATE", server.Raw)
	writeKey(t, filepath.Join(dir, "server.key"), serverKey)
	client, clientKey := newCert(t, "ocne-image", ca, caKey, false)
	writePEM(t, filepath.Join(dir, "client.crt"), "CERTIFICATE", client.Raw)
	writeKey(t, filepath.Join(dir, "client.key"), clientKey)
	m.CAFile, m.CertFile, m.KeyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")

	httpPort, rpcPort := FreePort(t), FreePort(t)
	m.HTTP = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	m.Endpoint = fmt.Sprintf("127.0.0.1:%d", rpcPort)
	cmd := exec.Command(bin, "-address", fmt.Sprintf("127.0.0.1:%d", httpPort), "-rpc-address", m.Endpoint,
		"-data-path", m.Data, "-assets-path", filepath.Join(dir, "assets"),
		"-cert-file", filepath.Join(dir, "server.crt"), "-key-file", filepath.Join(dir, "server.key"), "-ca-file", m.CAFile,
		"-log-level", "debug")
	StartServer(t, "matchbox", cmd, filepath.Join(dir, "matchbox.log"), "")
	WaitHTTP(t, m.HTTP+"/", 10*time.Second)
	return m
}

func newCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t *testing.T, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "EC PRIVATE KEY", der)
}
