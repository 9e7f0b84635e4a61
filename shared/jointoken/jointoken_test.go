package jointoken

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"

	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{"lb.example.com:6443", "lb.example.com:6443", ""},
		{"lb.example.com", "lb.example.com:6443", ""},
		{"10.0.0.5", "10.0.0.5:6443", ""},
		{"fd00::5", "[fd00::5]:6443", ""},
		{"[fd00::5]:443", "[fd00::5]:443", ""},
		{"https://api.example.com", "api.example.com:443", ""},
		{"https://api.example.com:8443/", "api.example.com:8443", ""},
		{"", "", "invalid"},
		{"a b", "", "invalid"},
	}
	for _, tt := range tests {
		got, err := ParseEndpoint(tt.in, 6443)
		if got != tt.want || (err == nil) != (tt.wantErr == "") {
			t.Errorf("ParseEndpoint(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for ep, want := range map[string]bool{"127.0.0.1:6443": true, "localhost:6443": true, "[::1]:6443": true, "192.0.2.2:6443": false, "api:6443": false} {
		if got := isLoopback(ep); got != want {
			t.Errorf("isLoopback(%q) = %v", ep, got)
		}
	}
}

// The pin is over the SubjectPublicKeyInfo, not the certificate: a CA
// re-signed with the same key keeps its hash.
func TestCAHashes(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var certs []*x509.Certificate
	for i := range 2 {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: "kubernetes"},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		certs = append(certs, c)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	sum := sha256.Sum256(spki)
	want := "sha256:" + hex.EncodeToString(sum[:])
	got := Cluster{CAs: certs}.CAHashes()
	if len(got) != 2 || got[0] != want || got[1] != want {
		t.Errorf("CAHashes = %v, want twice %s", got, want)
	}
}

func TestTokenObject(t *testing.T) {
	tok, err := New(2 * time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !bootstraputil.IsValidBootstrapToken(tok.String()) {
		t.Fatalf("invalid token %q", tok)
	}
	s := tok.Object()
	if s.Name != "bootstrap-token-"+tok.ID || s.Namespace != "kube-system" || s.Type != bootstrapapi.SecretTypeBootstrapToken {
		t.Errorf("secret %s/%s type %s", s.Namespace, s.Name, s.Type)
	}
	exp, err := time.Parse(time.RFC3339, string(s.Data["expiration"]))
	if err != nil || exp.Before(time.Now().Add(119*time.Minute)) || exp.After(time.Now().Add(121*time.Minute)) {
		t.Errorf("expiration %q", s.Data["expiration"])
	}
	for k, want := range map[string]string{"token-id": tok.ID, "token-secret": tok.Secret, "usage-bootstrap-authentication": "true",
		"usage-bootstrap-signing": "true", "auth-extra-groups": DefaultGroup} {
		if string(s.Data[k]) != want {
			t.Errorf("%s = %q, want %q", k, s.Data[k], want)
		}
	}
	never, _ := New(0)
	if _, ok := never.Object().Data["expiration"]; ok {
		t.Error("a token with --ttl 0 has an expiration")
	}
	if cmd := tok.CreateCommand(2 * time.Hour); !strings.HasPrefix(cmd, "kubeadm token create "+tok.String()+" --ttl 2h0m0s") {
		t.Errorf("command %q", cmd)
	}
}
