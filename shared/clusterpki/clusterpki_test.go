package clusterpki

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// A CA made once is the CA every later run uses; its files are private.
func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	ca, created, err := LoadOrCreate(dir, Subject{Country: "US", Org: "OCNE", OrgUnit: "OCNE", State: "TX"})
	if err != nil || !created {
		t.Fatalf("first run: created %v, %v", created, err)
	}
	if !ca.Cert.IsCA || ca.Cert.Subject.String() != "CN=kubernetes,OU=OCNE,O=OCNE,ST=TX,C=US" {
		t.Errorf("CA %s, IsCA %v", ca.Cert.Subject, ca.Cert.IsCA)
	}
	for _, f := range []string{CertFile, KeyFile} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, fi.Mode(), err)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", fi.Mode())
	}
	again, created, err := LoadOrCreate(dir, Subject{})
	if err != nil || created || !again.Cert.Equal(ca.Cert) {
		t.Errorf("second run: created %v, same %v, %v", created, again != nil && again.Cert.Equal(ca.Cert), err)
	}
}

func TestLoadOrCreateRefuses(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	LoadOrCreate(a, Subject{})
	LoadOrCreate(b, Subject{})
	copyTo := func(dir string, files map[string]string) string {
		os.MkdirAll(dir, 0o700)
		for name, from := range files {
			data, _ := os.ReadFile(from)
			os.WriteFile(filepath.Join(dir, name), data, 0o600)
		}
		return dir
	}
	root := t.TempDir()
	tests := []struct {
		name, dir, want string
	}{
		{"key of another CA", copyTo(filepath.Join(root, "mixed"), map[string]string{CertFile: filepath.Join(a, CertFile), KeyFile: filepath.Join(b, KeyFile)}), "ca.key does not belong to ca.crt"},
		{"certificate only", copyTo(filepath.Join(root, "cert"), map[string]string{CertFile: filepath.Join(a, CertFile)}), "half there (ca.crt without ca.key)"},
		{"key only", copyTo(filepath.Join(root, "key"), map[string]string{KeyFile: filepath.Join(a, KeyFile)}), "half there (ca.key without ca.crt)"},
		{"not PEM", copyTo(filepath.Join(root, "junk"), map[string]string{CertFile: filepath.Join(a, KeyFile), KeyFile: filepath.Join(a, KeyFile)}), "ca.crt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadDir(tt.dir)
			_, _, err := LoadOrCreate(tt.dir, Subject{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tt.want)
			}
			if after, _ := os.ReadDir(tt.dir); len(after) != len(before) {
				t.Errorf("files changed: %v -> %v", before, after)
			}
		})
	}
}

// The admin's group follows kubeadm: kubeadm:cluster-admins from 1.29.
func TestAdminKubeconfig(t *testing.T) {
	ca, _, err := LoadOrCreate(filepath.Join(t.TempDir(), "pki"), Subject{})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for version, group := range map[string]string{"1.28.8": "system:masters", "1.29.3": "kubeadm:cluster-admins", "1.33.5": "kubeadm:cluster-admins"} {
		raw, err := ca.AdminKubeconfig("demo", "https://192.0.2.100:6443", version)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := clientcmd.Load(raw)
		if err != nil {
			t.Fatal(err)
		}
		ctx := cfg.Contexts[cfg.CurrentContext]
		if ctx == nil || cfg.Clusters[ctx.Cluster].Server != "https://192.0.2.100:6443" {
			t.Fatalf("%s: context %q %+v", version, cfg.CurrentContext, ctx)
		}
		blk, _ := pem.Decode(cfg.AuthInfos[ctx.AuthInfo].ClientCertificateData)
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s: %v", version, err)
		}
		if cert.Subject.CommonName != "kubernetes-admin" || !slices.Equal(cert.Subject.Organization, []string{group}) {
			t.Errorf("%s: subject %s, want group %s", version, cert.Subject, group)
		}
	}
	if _, err := ca.AdminKubeconfig("demo", "https://x:6443", "latest"); err == nil {
		t.Error("a version that is not one was taken")
	}
}
