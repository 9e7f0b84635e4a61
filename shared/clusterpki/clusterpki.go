// Package clusterpki makes the cluster CA of a bring-your-own cluster and
// the admin kubeconfig signed by it. Only the CA is made, as ocne does:
// the first control-plane node's kubeadm derives every other certificate
// and key from it, and uploads them for the control planes that join.
package clusterpki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"

	"github.com/ocne-image/ocne-image/shared/atomicfile"
)

// File names in the CA directory, as kubeadm names them under
// /etc/kubernetes/pki.
const (
	CertFile = "ca.crt"
	KeyFile  = "ca.key"
)

// CA is the cluster's certificate authority.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// Subject names who a new CA belongs to, beside its common name
// (kubeadm's "kubernetes"); ocne's certificateInformation.
type Subject struct {
	Country, Org, OrgUnit, State string
}

func (s Subject) name() pkix.Name {
	n := pkix.Name{CommonName: "kubernetes"}
	add := func(dst *[]string, v string) {
		if v != "" {
			*dst = []string{v}
		}
	}
	add(&n.Country, s.Country)
	add(&n.Organization, s.Org)
	add(&n.OrganizationalUnit, s.OrgUnit)
	add(&n.Province, s.State)
	return n
}

// LoadOrCreate returns the CA kept in dir, or makes one there (the
// directory 0700, both files 0600) for subject when dir holds none. A
// directory with only one of the two files, or a key that does not belong
// to the certificate, is refused: re-running init must never fork a
// cluster's CA.
func LoadOrCreate(dir string, subject Subject) (ca *CA, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		ca, err := parse(certPEM, keyPEM)
		if err != nil {
			return nil, false, fmt.Errorf("the CA in %s: %w; move the directory away to make a new CA, or restore the files", dir, err)
		}
		return ca, false, nil
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, false, fmt.Errorf("read the CA: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, false, fmt.Errorf("read the CA: %w", keyErr)
	default:
		return nil, false, fmt.Errorf("the CA in %s is half there (%s without %s); restore the missing file or move the directory away", dir, present(certErr, CertFile, KeyFile), present(keyErr, CertFile, KeyFile))
	}
	if ca, err = newCA(subject); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("make the CA directory: %w", err)
	}
	// The key last: a certificate without its key is refused above, and
	// removed here, so a failure leaves no half CA behind.
	if err := atomicfile.Write(certPath, ca.CertPEM, 0o600); err != nil {
		return nil, false, fmt.Errorf("write the CA: %w", err)
	}
	if err := atomicfile.Write(keyPath, ca.KeyPEM, 0o600); err != nil {
		os.Remove(certPath)
		return nil, false, fmt.Errorf("write the CA key: %w", err)
	}
	return ca, true, nil
}

// present names the file of the two that exists.
func present(err error, ifOK, ifNot string) string {
	if err == nil {
		return ifOK
	}
	return ifNot
}

// newCA makes a CA as kubeadm's would be: CN kubernetes, RSA 2048, ten
// years.
func newCA(subject Subject) (*CA, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate the CA key: %w", err)
	}
	tmpl, err := template(subject.name(), 10*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("make the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: encodeCert(cert.Raw), KeyPEM: keyPEM}, nil
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func parse(certPEM, keyPEM []byte) (*CA, error) {
	certs, err := certutil.ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", CertFile, err)
	}
	k, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyFile, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", KeyFile)
	}
	cert := certs[0]
	if !cert.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate", CertFile)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("%s does not belong to %s", KeyFile, CertFile)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// template is a certificate for subject valid from a few minutes ago (the
// clocks of this machine and the nodes differ) for validity, with a random
// serial.
func template(subject pkix.Name, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("make a serial number: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      subject,
		NotBefore:    now.Add(-5 * time.Minute).UTC(),
		NotAfter:     now.Add(validity).UTC(),
	}, nil
}

// adminGroupSince: kubeadm 1.29 split the admin's system:masters into
// admin.conf (group kubeadm:cluster-admins, bound to cluster-admin during
// init) and super-admin.conf.
var adminGroupSince = version.MustParseGeneric("1.29.0")

// AdminGroup is the group kubeadm gives the admin user at that Kubernetes
// version.
func AdminGroup(kubeVersion string) (string, error) {
	v, err := version.ParseGeneric(kubeVersion)
	if err != nil {
		//lint:ignore ST1005 Kubernetes is a name
		return "", fmt.Errorf("Kubernetes version %q: %w", kubeVersion, err)
	}
	if v.AtLeast(adminGroupSince) {
		return "kubeadm:cluster-admins", nil
	}
	return "system:masters", nil
}

// AdminKubeconfig is a kubeconfig for kubernetes-admin at server
// (https://HOST:PORT), signed by the CA, valid for a year as kubeadm's;
// the context is named after the cluster.
func (ca *CA) AdminKubeconfig(clusterName, server, kubeVersion string) ([]byte, error) {
	group, err := AdminGroup(kubeVersion)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the admin key: %w", err)
	}
	tmpl, err := template(pkix.Name{CommonName: "kubernetes-admin", Organization: []string{group}}, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign the admin certificate: %w", err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, err
	}
	user, ctx := "kubernetes-admin", "kubernetes-admin@"+clusterName
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: bytes.Clone(ca.CertPEM)}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{
		ClientCertificateData: encodeCert(der),
		ClientKeyData:         keyPEM,
	}
	cfg.Contexts[ctx] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user}
	cfg.CurrentContext = ctx
	return clientcmd.Write(*cfg)
}
