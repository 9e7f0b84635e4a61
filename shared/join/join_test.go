package join

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	v35 "github.com/coreos/ignition/v2/config/v3_5"
	"github.com/coreos/ignition/v2/config/v3_5/types"
	"github.com/vincent-petithory/dataurl"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/shared/config"
	"github.com/ocne-image/ocne-image/shared/ignition"
	"github.com/ocne-image/ocne-image/shared/jointoken"
	"github.com/ocne-image/ocne-image/shared/pluginhost"
)

// testCA is a self-signed CA certificate in PEM.
func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// fakeCluster is a cluster of Kubernetes gitVersion holding objs.
func fakeCluster(gitVersion string, objs ...runtime.Object) *fake.Clientset {
	cs := fake.NewClientset(objs...)
	cs.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: gitVersion}
	return cs
}

// clusterInfo is kubeadm's kube-public/cluster-info for server.
func clusterInfo(server string, ca []byte) *corev1.ConfigMap {
	kc := "apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    server: " + server +
		"\n    certificate-authority-data: " + base64.StdEncoding.EncodeToString(ca) + "\n"
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-public", Name: "cluster-info"}, Data: map[string]string{"kubeconfig": kc}}
}

func TestRead(t *testing.T) {
	ca := testCA(t)
	tests := []struct {
		name         string
		host         string // the kubeconfig's server
		caData       []byte
		apiServer    string
		objs         []runtime.Object
		versionErr   error
		wantEndpoint string
		wantSource   string
		wantErr      string
	}{
		{name: "the kubeconfig's server and CA", host: "https://192.0.2.10:6443", caData: ca,
			wantEndpoint: "192.0.2.10:6443", wantSource: "kubeconfig"},
		{name: "--api-server wins", host: "https://192.0.2.10:6443", caData: ca, apiServer: "lb.example.com:6443",
			wantEndpoint: "lb.example.com:6443", wantSource: "kubeconfig"},
		{name: "a loopback server sends us to cluster-info", host: "https://127.0.0.1:6443", caData: ca,
			objs: []runtime.Object{clusterInfo("https://192.0.2.11:6443", ca)}, wantEndpoint: "192.0.2.11:6443", wantSource: "cluster-info"},
		{name: "no CA in the kubeconfig, none in the cluster", host: "https://192.0.2.10:6443",
			wantErr: "cannot determine the API server endpoint and CA for joining nodes: the kubeconfig has no CA data, and the cluster has no kube-public/cluster-info ConfigMap"},
		{name: "loopback only", host: "https://127.0.0.1:6443", caData: ca, objs: []runtime.Object{clusterInfo("https://127.0.0.1:6443", ca)},
			wantErr: "a loopback address nodes cannot reach"},
		{name: "the version cannot be read", host: "https://192.0.2.10:6443", caData: ca, versionErr: errors.New("connection\n  refused"),
			wantErr: "read the cluster's version: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fakeCluster("v1.33.2", tt.objs...)
			if tt.versionErr != nil {
				cs.PrependReactor("get", "version", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, tt.versionErr })
			}
			rc := &rest.Config{Host: tt.host, TLSClientConfig: rest.TLSClientConfig{CAData: tt.caData}}
			c, err := Read(context.Background(), cs, rc, tt.apiServer)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Endpoint != tt.wantEndpoint || c.Source != tt.wantSource || c.Version != "v1.33.2" || len(c.CAs) != 1 {
				t.Errorf("got %s from %s, Kubernetes %s, %d CAs; want %s from %s", c.Endpoint, c.Source, c.Version, len(c.CAs), tt.wantEndpoint, tt.wantSource)
			}
		})
	}
}

// testCluster is what Read returns for a cluster at 192.0.2.10:6443.
func testCluster(t *testing.T, gitVersion string) Cluster {
	t.Helper()
	b, _ := pem.Decode(testCA(t))
	ca, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return Cluster{Cluster: jointoken.Cluster{Endpoint: "192.0.2.10:6443", CAs: []*x509.Certificate{ca}, Source: "kubeconfig"}, Version: gitVersion}
}

func testNode() Node {
	return Node{
		IgnitionVersion:   ignition.DefaultVersion,
		Update:            ignition.Update{Registry: "container-registry.oracle.com/olcne/ock-ostree", Transport: "ostree-unverified-registry"},
		ContainerRegistry: ignition.DefaultContainerRegistry,
	}
}

// file is the content of path in the Ignition config raw.
func file(t *testing.T, raw []byte, path string) string {
	t.Helper()
	c, rpt, err := v35.ParseCompatibleVersion(raw)
	if err != nil {
		t.Fatalf("parse: %v %s", err, rpt)
	}
	return fileIn(t, c, path)
}

func fileIn(t *testing.T, c types.Config, path string) string {
	t.Helper()
	for _, f := range c.Storage.Files {
		if f.Path == path {
			d, err := dataurl.DecodeString(*f.Contents.Source)
			if err != nil {
				t.Fatal(err)
			}
			return string(d.Data)
		}
	}
	t.Fatalf("no file %s", path)
	return ""
}

func TestNewPlan(t *testing.T) {
	vip := testNode()
	vip.Config = config.Config{Node: config.Node{VirtualIP: "192.0.2.100"}}
	vip.NetInterface = "enp1s0"
	tagged := testNode()
	tagged.Update.Tag = "1.33-custom"
	tests := []struct {
		name        string
		version     string
		req         Request
		wantAPI     string
		wantTag     string
		wantInJoin  []string // in the kubeadm config, beside the token
		wantCertKey bool
		wantUpload  bool
		wantErr     string
	}{
		{name: "worker", version: "v1.33.2", req: Request{Node: testNode(), TTL: time.Hour, CreateToken: true},
			wantAPI: "kubeadm.k8s.io/v1beta4", wantTag: "1.33", wantInJoin: []string{"apiServerEndpoint: 192.0.2.10:6443", "sha256:"}},
		{name: "an older cluster's kubeadm API", version: "v1.30.1", req: Request{Node: testNode(), CreateToken: true},
			wantAPI: "kubeadm.k8s.io/v1beta3", wantTag: "1.30"},
		{name: "the OS tag the user asked for", version: "v1.33.2", req: Request{Node: tagged, CreateToken: true},
			wantAPI: "kubeadm.k8s.io/v1beta4", wantTag: "1.33-custom"},
		{name: "control plane, certificates left to the user", version: "v1.33.2", req: Request{Node: testNode(), ControlPlane: true, CreateToken: true},
			wantAPI: "kubeadm.k8s.io/v1beta4", wantTag: "1.33", wantInJoin: []string{"controlPlane:", "bindPort: 6443"}, wantCertKey: true},
		{name: "control plane behind a virtual IP, certificates uploaded", version: "v1.33.2",
			req:     Request{Node: vip, ControlPlane: true, CreateToken: true, UploadCerts: true, UploadImage: "reg.example.com/b:1"},
			wantAPI: "kubeadm.k8s.io/v1beta4", wantTag: "1.33", wantInJoin: []string{"bindPort: 6444"}, wantCertKey: true, wantUpload: true},
		{name: "token left to the user", version: "v1.33.2", req: Request{Node: testNode(), TTL: time.Hour},
			wantAPI: "kubeadm.k8s.io/v1beta4", wantTag: "1.33"},
		{name: "certificates of a worker", version: "v1.33.2", req: Request{Node: testNode(), UploadCerts: true, UploadImage: "b"},
			wantErr: "certificates are uploaded for control planes only"},
		{name: "upload without an image", version: "v1.33.2", req: Request{Node: testNode(), ControlPlane: true, UploadCerts: true},
			wantErr: "needs an image"},
		{name: "a version that does not parse", version: "vNext", req: Request{Node: testNode()},
			wantErr: `kubeadm API version for Kubernetes "vNext"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlan(testCluster(t, tt.version), tt.req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.KubeadmAPIVersion != tt.wantAPI || p.CreateToken != tt.req.CreateToken {
				t.Errorf("kubeadm %s, create token %v; want %s, %v", p.KubeadmAPIVersion, p.CreateToken, tt.wantAPI, tt.req.CreateToken)
			}
			if tt.req.TTL > 0 && time.Until(p.Token.Expires) > tt.req.TTL || tt.req.TTL == 0 && !p.Token.Expires.IsZero() {
				t.Errorf("token expires %s, TTL %s", p.Token.Expires, tt.req.TTL)
			}
			if (p.CertKey != "") != tt.wantCertKey || (p.Upload != nil) != tt.wantUpload {
				t.Errorf("certificate key %q, upload %+v", p.CertKey, p.Upload)
			}
			if p.Upload != nil && (p.Upload.Key != p.CertKey || p.Upload.Image != tt.req.UploadImage) {
				t.Errorf("upload %+v, want key %s and image %s", p.Upload, p.CertKey, tt.req.UploadImage)
			}
			kc := file(t, p.Config, ignition.KubeadmConfigPath)
			for _, want := range append(tt.wantInJoin, "apiVersion: "+tt.wantAPI, "token: "+p.Token.String()) {
				if !strings.Contains(kc, want) {
					t.Errorf("kubeadm config lacks %q:\n%s", want, kc)
				}
			}
			if p.CertKey != "" && !strings.Contains(kc, "certificateKey: "+p.CertKey) {
				t.Errorf("kubeadm config lacks the certificate key:\n%s", kc)
			}
			if u := file(t, p.Config, ignition.UpdateConfigPath); !strings.Contains(u, "tag: "+tt.wantTag+"\n") {
				t.Errorf("update config %q, want tag %s", u, tt.wantTag)
			}
		})
	}
}

// publisher records publications; err fails them.
type publisher struct {
	published map[string][]byte
	expires   time.Time
	err       error
}

func (p *publisher) Publish(_ context.Context, config []byte, pub pluginhost.Publication) (ignitionhost.Entry, error) {
	if p.err != nil {
		return ignitionhost.Entry{}, p.err
	}
	if p.published == nil {
		p.published = map[string][]byte{}
	}
	p.published["n1"], p.expires = config, pub.Expires
	return ignitionhost.Entry{Name: "n1", URL: "http://192.0.2.5/ignition/n1", Expires: pub.Expires}, nil
}

func (p *publisher) Unpublish(_ context.Context, name string) error {
	delete(p.published, name)
	return nil
}

// podsSucceed makes every pod the upload creates finish at once.
func podsSucceed(cs *fake.Clientset) {
	cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: a.(k8stesting.GetAction).GetName()},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}, nil
	})
}

func tokenSecret(t *testing.T, cs *fake.Clientset, p *Plan) (*corev1.Secret, bool) {
	t.Helper()
	s, err := cs.CoreV1().Secrets("kube-system").Get(context.Background(), p.Token.SecretName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return s, true
}

func TestCommit(t *testing.T) {
	cs := fakeCluster("v1.33.2")
	podsSucceed(cs)
	p, err := NewPlan(testCluster(t, "v1.33.2"), Request{Node: testNode(), ControlPlane: true, TTL: time.Hour,
		CreateToken: true, UploadCerts: true, UploadImage: "reg.example.com/b:1"})
	if err != nil {
		t.Fatal(err)
	}
	p.Upload.Timeout = 5 * time.Second
	pub := &publisher{}
	var log strings.Builder
	done, err := p.Commit(context.Background(), cs, pub, &log)
	if err != nil {
		t.Fatal(err)
	}

	s, ok := tokenSecret(t, cs, p)
	if !ok {
		t.Fatal("no token Secret")
	}
	if s.Type != "bootstrap.kubernetes.io/token" || string(s.Data["token-id"]) != p.Token.ID || string(s.Data["token-secret"]) != p.Token.Secret ||
		string(s.Data["expiration"]) != p.Token.Expires.Format(time.RFC3339) || s.Labels["app.kubernetes.io/managed-by"] != "ocne-image" {
		t.Errorf("token Secret %+v", s)
	}
	var pods, keySecrets int
	for _, a := range cs.Actions() {
		if a.GetVerb() != "create" {
			continue
		}
		switch obj := a.(k8stesting.CreateAction).GetObject().(type) {
		case *corev1.Pod:
			pods++
			if obj.Namespace != "kube-system" && a.GetNamespace() != "kube-system" || obj.Spec.Containers[0].Image != "reg.example.com/b:1" {
				t.Errorf("upload pod %s/%s runs %s", a.GetNamespace(), obj.GenerateName, obj.Spec.Containers[0].Image)
			}
		case *corev1.Secret:
			if string(obj.Data["key"]) == p.CertKey {
				keySecrets++
			}
		}
	}
	if pods != 1 || keySecrets != 1 {
		t.Errorf("%d upload pods and %d key Secrets created, want 1 each", pods, keySecrets)
	}
	if string(pub.published["n1"]) != string(p.Config) || !pub.expires.Equal(p.Token.Expires) {
		t.Errorf("published %d bytes expiring %s; want the config, expiring with the token", len(pub.published["n1"]), pub.expires)
	}
	if done.Published.URL != "http://192.0.2.5/ignition/n1" {
		t.Errorf("published at %q", done.Published.URL)
	}
	for _, want := range []string{"Created bootstrap token " + p.Token.ID, "Uploading the control-plane certificates"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}

	// A step after Commit failed: the command rolls back.
	if err := done.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := tokenSecret(t, cs, p); ok {
		t.Error("the token Secret is left after Rollback")
	}
	if len(pub.published) != 0 {
		t.Error("the config is still published after Rollback")
	}
	if err := done.Rollback(context.Background()); err != nil {
		t.Errorf("a second Rollback: %v", err)
	}
}

// TestCommitFailure: a step that fails after the token was created
// leaves no token, and nothing published.
func TestCommitFailure(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		create  bool
		upload  bool
		publish error
		inject  func(cs *fake.Clientset, cancel context.CancelFunc)
		wantErr string
	}{
		{name: "the upload pod cannot be created", create: true, upload: true,
			inject: func(cs *fake.Clientset, _ context.CancelFunc) {
				cs.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, boom })
			}, wantErr: "boom"},
		{name: "the upload is interrupted", create: true, upload: true,
			inject: func(cs *fake.Clientset, cancel context.CancelFunc) {
				cs.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
					cancel()
					return false, nil, nil
				})
			}, wantErr: "upload-certs interrupted"},
		{name: "the kubeadm pod fails", create: true, upload: true,
			inject: func(cs *fake.Clientset, _ context.CancelFunc) {
				cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
					return true, &corev1.Pod{Spec: corev1.PodSpec{NodeName: "cp1"}, Status: corev1.PodStatus{Phase: corev1.PodFailed}}, nil
				})
			}, wantErr: "kubeadm upload-certs failed on node cp1"},
		{name: "publishing fails", create: true, publish: boom, wantErr: "boom"},
		{name: "publishing fails, the user creates the token", publish: boom, wantErr: "boom"},
		{name: "the token may not be created",
			inject: func(cs *fake.Clientset, _ context.CancelFunc) {
				cs.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "", boom)
				})
			}, create: true, wantErr: jointoken.ErrTokenForbidden.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fakeCluster("v1.33.2")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.inject != nil {
				tt.inject(cs, cancel)
			}
			p, err := NewPlan(testCluster(t, "v1.33.2"), Request{Node: testNode(), ControlPlane: true, TTL: time.Hour,
				CreateToken: tt.create, UploadCerts: tt.upload, UploadImage: "b"})
			if err != nil {
				t.Fatal(err)
			}
			if p.Upload != nil {
				p.Upload.Timeout = 5 * time.Second
			}
			pub := &publisher{err: tt.publish}
			done, err := p.Commit(ctx, cs, pub, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || done != nil {
				t.Fatalf("Commit: %v, %v; want error %q", done, err, tt.wantErr)
			}
			if _, ok := tokenSecret(t, cs, p); ok {
				t.Error("the token Secret is left")
			}
			if len(pub.published) != 0 {
				t.Error("the config is left published")
			}
			var deletes []string
			for _, a := range cs.Actions() {
				if a.GetVerb() == "delete" && a.GetResource().Resource == "secrets" {
					deletes = append(deletes, a.(k8stesting.DeleteAction).GetName())
				}
			}
			// Only a token Commit created is deleted: never one of the user's.
			tokenDeleted := strings.Contains(strings.Join(deletes, " "), p.Token.SecretName())
			if tokenDeleted != (tt.create && tt.wantErr != jointoken.ErrTokenForbidden.Error()) {
				t.Errorf("deleted Secrets %v", deletes)
			}
		})
	}
}

// TestCommitInterrupted: a context cancelled once every step is done still
// undoes them; the command never writes a config whose token is gone.
func TestCommitInterrupted(t *testing.T) {
	cs := fakeCluster("v1.33.2")
	ctx, cancel := context.WithCancel(context.Background())
	p, err := NewPlan(testCluster(t, "v1.33.2"), Request{Node: testNode(), TTL: time.Hour, CreateToken: true})
	if err != nil {
		t.Fatal(err)
	}
	pub := &publisher{}
	cs.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		cancel()
		return false, nil, nil
	})
	if _, err := p.Commit(ctx, cs, pub, io.Discard); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit: %v, want context.Canceled", err)
	}
	if _, ok := tokenSecret(t, cs, p); ok {
		t.Error("the token Secret is left")
	}
	if len(pub.published) != 0 {
		t.Error("the config is left published")
	}
}

// stuckPublisher cannot unpublish.
type stuckPublisher struct{ publisher }

func (*stuckPublisher) Unpublish(context.Context, string) error { return errors.New("backend down") }

// TestRollbackLeft: what Rollback cannot remove it names; the rest goes.
func TestRollbackLeft(t *testing.T) {
	cs := fakeCluster("v1.33.2")
	p, err := NewPlan(testCluster(t, "v1.33.2"), Request{Node: testNode(), CreateToken: true})
	if err != nil {
		t.Fatal(err)
	}
	done, err := p.Commit(context.Background(), cs, &stuckPublisher{}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := done.Rollback(context.Background()); err == nil || err.Error() != "unpublish n1: backend down" {
		t.Errorf("Rollback: %v, want it to name the config left published", err)
	}
	if _, ok := tokenSecret(t, cs, p); ok {
		t.Error("the token Secret is left")
	}
}
