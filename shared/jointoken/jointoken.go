// Package jointoken gives a new node what kubeadm join needs from the
// cluster: where the API server is, the hashes of the CA that signs it,
// and a bootstrap token, made the way `kubeadm token create` makes them.
package jointoken

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
)

// DefaultGroup is the group kubeadm puts node bootstrap tokens in; the
// RBAC kubeadm sets up lets it create CSRs and get them approved.
const DefaultGroup = "system:bootstrappers:kubeadm:default-node-token"

// ManagedBy labels the token Secrets this tool creates, so they can be
// listed and cleaned up; the bootstrap authenticator ignores labels.
const ManagedBy = "ocne-image"

// Cluster is how a joining node finds and trusts the API server.
type Cluster struct {
	Endpoint string // host:port
	CAs      []*x509.Certificate
	// Source says where it came from: "kubeconfig" or "cluster-info".
	Source string
}

// CAHashes returns "sha256:<hex>" of each CA's SubjectPublicKeyInfo: the
// pins kubeadm's discovery.bootstrapToken.caCertHashes wants.
func (c Cluster) CAHashes() []string {
	out := make([]string, 0, len(c.CAs))
	for _, ca := range c.CAs {
		sum := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
		out = append(out, "sha256:"+hex.EncodeToString(sum[:]))
	}
	return out
}

// ErrNoEndpoint says neither the kubeconfig nor the cluster tells where
// nodes reach the API server.
var ErrNoEndpoint = errors.New("cannot determine the API server endpoint and CA for joining nodes")

// ErrLoopback is wrapped, with ErrNoEndpoint, when the cluster knows its
// API server only by a loopback address: the CA was found, the endpoint
// nodes can reach was not.
var ErrLoopback = errors.New("a loopback address nodes cannot reach")

// ErrTokenForbidden says the bootstrap token may not be created: kubeadm
// on a control-plane node can create it instead (Token.CreateCommand).
var ErrTokenForbidden = errors.New("create the bootstrap token: not allowed to create secrets in kube-system")

// Discover reads the endpoint and CA from the client's config (the
// kubeconfig), else from the kube-public/cluster-info ConfigMap that
// kubeadm publishes. A loopback endpoint is useless to a node, so it also
// sends us to cluster-info. apiServer, when set, is the endpoint (a load
// balancer or virtual IP); only the CA is looked up then.
func Discover(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config, apiServer string) (Cluster, error) {
	endpoint, epErr := hostPort(cfg.Host)
	if apiServer != "" {
		endpoint, epErr = apiServer, nil
	}
	cas, caErr := restCAs(cfg)
	usable := epErr == nil && (apiServer != "" || !isLoopback(endpoint))
	if usable && caErr == nil && len(cas) > 0 {
		return Cluster{Endpoint: endpoint, CAs: cas, Source: "kubeconfig"}, nil
	}
	ci, err := fromClusterInfo(ctx, cs)
	if err != nil {
		why := "the kubeconfig has no CA data"
		switch {
		case epErr != nil:
			why = epErr.Error()
		case caErr != nil:
			why = caErr.Error()
		case !usable:
			why = "the kubeconfig's server " + endpoint + " is a loopback address"
		}
		return Cluster{}, fmt.Errorf("%w: %s, and %v", ErrNoEndpoint, why, err)
	}
	if len(cas) > 0 && caErr == nil {
		// The kubeconfig's CA is the one this session already trusts.
		ci.CAs = cas
	}
	if usable {
		ci.Endpoint = endpoint
	} else if isLoopback(ci.Endpoint) {
		return Cluster{}, fmt.Errorf("%w: the API server is known only as %s, %w", ErrNoEndpoint, ci.Endpoint, ErrLoopback)
	}
	return ci, nil
}

func fromClusterInfo(ctx context.Context, cs kubernetes.Interface) (Cluster, error) {
	cm, err := cs.CoreV1().ConfigMaps(metav1.NamespacePublic).Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return Cluster{}, errors.New("the cluster has no kube-public/cluster-info ConfigMap")
	case apierrors.IsForbidden(err):
		return Cluster{}, errors.New("reading the kube-public/cluster-info ConfigMap is forbidden")
	case err != nil:
		return Cluster{}, fmt.Errorf("read kube-public/cluster-info: %w", err)
	}
	kc, err := clientcmd.Load([]byte(cm.Data[bootstrapapi.KubeConfigKey]))
	if err != nil {
		return Cluster{}, fmt.Errorf("kube-public/cluster-info holds no valid kubeconfig: %w", err)
	}
	for _, c := range kc.Clusters {
		ep, err := hostPort(c.Server)
		if err != nil {
			return Cluster{}, fmt.Errorf("kube-public/cluster-info: %w", err)
		}
		cas, err := parseCAs(c.CertificateAuthorityData)
		if err != nil || len(cas) == 0 {
			return Cluster{}, fmt.Errorf("kube-public/cluster-info has no usable CA: %v", err)
		}
		return Cluster{Endpoint: ep, CAs: cas, Source: "cluster-info"}, nil
	}
	return Cluster{}, errors.New("kube-public/cluster-info names no cluster")
}

func restCAs(cfg *rest.Config) ([]*x509.Certificate, error) {
	data := cfg.TLSClientConfig.CAData
	if len(data) == 0 && cfg.TLSClientConfig.CAFile != "" {
		b, err := os.ReadFile(cfg.TLSClientConfig.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read the kubeconfig's CA file: %w", err)
		}
		data = b
	}
	if len(data) == 0 {
		return nil, nil
	}
	return parseCAs(data)
}

func parseCAs(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse CA certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate in the CA data")
	}
	return out, nil
}

// hostPort turns a server URL (https://host[:port][/path]) into host:port.
func hostPort(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("server %q is not a URL", server)
	}
	if u.Port() != "" {
		return u.Host, nil
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

func isLoopback(endpoint string) bool {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseEndpoint checks an --api-server value: host:port, or host (then
// defaultPort: the cluster's kubeApiServerBindPort, 6443 unless set).
func ParseEndpoint(s string, defaultPort int) (string, error) {
	if strings.Contains(s, "://") {
		return hostPort(s)
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	if s == "" || strings.ContainsAny(s, "/ ") {
		return "", fmt.Errorf("invalid API server endpoint %q: want HOST:PORT", s)
	}
	return net.JoinHostPort(strings.Trim(s, "[]"), strconv.Itoa(defaultPort)), nil
}

// Token is a bootstrap token.
type Token struct {
	ID, Secret string
	Expires    time.Time // zero: never
}

// String is the id.secret form kubeadm join takes.
func (t Token) String() string { return bootstraputil.TokenFromIDAndSecret(t.ID, t.Secret) }

// SecretName is the name of the token's Secret in kube-system.
func (t Token) SecretName() string { return bootstraputil.BootstrapTokenSecretName(t.ID) }

// New makes a random token that expires ttl from now (never for 0).
func New(ttl time.Duration) (Token, error) {
	s, err := bootstraputil.GenerateBootstrapToken()
	if err != nil {
		return Token{}, fmt.Errorf("generate bootstrap token: %w", err)
	}
	id, secret, _ := strings.Cut(s, ".")
	t := Token{ID: id, Secret: secret}
	if ttl > 0 {
		t.Expires = time.Now().Add(ttl).UTC().Truncate(time.Second)
	}
	return t, nil
}

// Description is what `kubectl -n kube-system get secret bootstrap-token-ID`
// shows as the token's purpose.
const Description = "ocne-image: joins a node (kubectl ocne-image ignition join)"

// Object is the token as the cluster stores it: the Secret `kubeadm token
// create` writes, with authentication and signing usages and the node
// bootstrappers group.
func (t Token) Object() *corev1.Secret {
	data := map[string][]byte{
		bootstrapapi.BootstrapTokenIDKey:               []byte(t.ID),
		bootstrapapi.BootstrapTokenSecretKey:           []byte(t.Secret),
		bootstrapapi.BootstrapTokenDescriptionKey:      []byte(Description),
		bootstrapapi.BootstrapTokenUsageAuthentication: []byte("true"),
		bootstrapapi.BootstrapTokenUsageSigningKey:     []byte("true"),
		bootstrapapi.BootstrapTokenExtraGroupsKey:      []byte(DefaultGroup),
	}
	if !t.Expires.IsZero() {
		data[bootstrapapi.BootstrapTokenExpirationKey] = []byte(t.Expires.Format(time.RFC3339))
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      t.SecretName(),
			Namespace: metav1.NamespaceSystem,
			Labels:    map[string]string{"app.kubernetes.io/managed-by": ManagedBy},
		},
		Type: bootstrapapi.SecretTypeBootstrapToken,
		Data: data,
	}
}

// Create stores the token in the cluster.
func Create(ctx context.Context, cs kubernetes.Interface, t Token) error {
	_, err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Create(ctx, t.Object(), metav1.CreateOptions{})
	if apierrors.IsForbidden(err) {
		return ErrTokenForbidden
	}
	if err != nil {
		return fmt.Errorf("create the bootstrap token Secret kube-system/%s: %w", t.SecretName(), err)
	}
	return nil
}

// Delete removes the token from the cluster, which stops it working.
func Delete(ctx context.Context, cs kubernetes.Interface, id string) error {
	err := cs.CoreV1().Secrets(metav1.NamespaceSystem).Delete(ctx, bootstraputil.BootstrapTokenSecretName(id), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete bootstrap token %s: %w", id, err)
	}
	return nil
}

// CreateCommand is the `kubeadm token create` command that stores this
// very token, for users who let a control-plane node do it.
func (t Token) CreateCommand(ttl time.Duration) string {
	return fmt.Sprintf("kubeadm token create %s --ttl %s --groups %s --usages signing,authentication --description %q",
		t.String(), ttl, DefaultGroup, Description)
}
