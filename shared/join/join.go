// Package join joins a node to a running cluster, as `ignition join` does:
// Read what the cluster says of itself, decide what the node's Ignition
// config holds and what the cluster must hold for it (NewPlan, no I/O),
// create that (Plan.Commit: the bootstrap token, the control-plane
// certificates, the published config) and remove it again when a later
// step fails (Committed.Rollback). Node renders what every node's config
// holds, which `ignition init` shares.
package join

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/shared/certupload"
	"github.com/ocne-image/ocne-image/shared/jointoken"
	"github.com/ocne-image/ocne-image/shared/kube"
	"github.com/ocne-image/ocne-image/shared/kubeadm"
	"github.com/ocne-image/ocne-image/shared/pluginhost"
)

// Cluster is what a joining node needs to know of the cluster.
type Cluster struct {
	jointoken.Cluster        // where nodes reach the API server, and its CA
	Version           string // the API server's, e.g. v1.34.4
}

// Read asks the cluster for its version and finds the endpoint nodes reach
// it at and the CA that signs it (jointoken.Discover); apiServer, when
// set, is the endpoint.
func Read(ctx context.Context, cs kubernetes.Interface, rc *rest.Config, apiServer string) (Cluster, error) {
	sv, err := cs.Discovery().ServerVersion()
	if err != nil {
		return Cluster{}, fmt.Errorf("read the cluster's version: %s", kube.OneLine(err.Error()))
	}
	c, err := jointoken.Discover(ctx, cs, rc, apiServer)
	if err != nil {
		return Cluster{}, err
	}
	return Cluster{Cluster: c, Version: sv.GitVersion}, nil
}

// Request is what the user asks for.
type Request struct {
	Node         Node
	ControlPlane bool
	TTL          time.Duration // of the token; 0 never expires
	// CreateToken false leaves the token to the user
	// (jointoken.Token.CreateCommand), as ocne's automaticTokenCreation
	// false does.
	CreateToken bool
	// UploadCerts uploads a control plane's certificates through a
	// privileged pod running UploadImage; without it the user runs
	// certupload.Command on a control-plane node.
	UploadCerts bool
	UploadImage string
}

// Plan is what joining one node takes: its config, and what Commit will
// create for it.
type Plan struct {
	Cluster           Cluster
	KubeadmAPIVersion string
	Token             jointoken.Token
	CreateToken       bool   // Commit creates Token
	CertKey           string // control planes: the key the certificates are uploaded under
	// Upload, if set, is the certificate upload Commit runs.
	Upload *certupload.Options
	// Config is the node's Ignition config; it holds the token and the key.
	Config []byte
}

// NewPlan decides what node r asks for takes in cluster c: a fresh token
// (and certificate key), the config holding them, and what to create.
func NewPlan(c Cluster, r Request) (*Plan, error) {
	if r.UploadCerts && !r.ControlPlane {
		return nil, errors.New("certificates are uploaded for control planes only")
	}
	if r.UploadCerts && r.UploadImage == "" {
		return nil, errors.New("the certificate upload needs an image to run the node's kubeadm in")
	}
	apiVersion, err := kubeadm.APIVersionFor(c.Version)
	if err != nil {
		return nil, err
	}
	tok, err := jointoken.New(r.TTL)
	if err != nil {
		return nil, err
	}
	p := &Plan{Cluster: c, KubeadmAPIVersion: apiVersion, Token: tok, CreateToken: r.CreateToken}
	if r.ControlPlane {
		if p.CertKey, err = certupload.NewKey(); err != nil {
			return nil, err
		}
		if r.UploadCerts {
			p.Upload = &certupload.Options{Key: p.CertKey, Image: r.UploadImage}
		}
	}
	p.Config, err = r.Node.JoinConfig(Spec{
		APIVersion: apiVersion, Endpoint: c.Endpoint, CAHashes: c.CAHashes(),
		Token: tok.String(), CertKey: p.CertKey, KubeMinor: kubeMinor(c.Version),
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// kubeMinor turns v1.34.4 into 1.34, the tag of OCK images.
func kubeMinor(gitVersion string) string {
	var major, minor int
	fmt.Sscanf(strings.TrimPrefix(gitVersion, "v"), "%d.%d", &major, &minor)
	return fmt.Sprintf("%d.%d", major, minor)
}

// Publisher puts a config where nodes fetch it: a hosting backend
// (pluginhost.Backend).
type Publisher interface {
	Publish(ctx context.Context, config []byte, p pluginhost.Publication) (ignitionhost.Entry, error)
	Unpublish(ctx context.Context, name string) error
}

// Committed is what Commit created.
type Committed struct {
	// Published is the config's entry in the Publisher; zero if not published.
	Published ignitionhost.Entry

	cs           kubernetes.Interface
	pub          Publisher
	tokenCreated bool
	tokenID      string
}

// Commit creates what p plans, in this order: the token, the certificate
// upload, and with pub (nil: none) the published config, which expires
// with the token. log gets a line per step. If a step fails or ctx is
// cancelled, what the earlier ones created is removed before Commit
// returns; once it has returned, Rollback removes it.
func (p *Plan) Commit(ctx context.Context, cs kubernetes.Interface, pub Publisher, log io.Writer) (_ *Committed, err error) {
	c := &Committed{cs: cs, pub: pub, tokenID: p.Token.ID}
	defer func() {
		if err != nil {
			// The step's error is what went wrong; a failed cleanup of a
			// token nobody has the config for is only a risk.
			c.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if p.CreateToken {
		if err := jointoken.Create(ctx, cs, p.Token); err != nil {
			return nil, err
		}
		c.tokenCreated = true
		fmt.Fprintf(log, "Created bootstrap token %s (Secret kube-system/%s), expires %s\n", p.Token.ID, p.Token.SecretName(), expiry(p.Token))
	}
	if p.Upload != nil {
		fmt.Fprintf(log, "Uploading the control-plane certificates through a privileged pod\n")
		if err := certupload.Upload(ctx, cs, *p.Upload); err != nil {
			return nil, err
		}
	}
	if pub != nil {
		e, err := pub.Publish(ctx, p.Config, pluginhost.Publication{Expires: p.Token.Expires})
		if err != nil {
			return nil, err
		}
		c.Published = e
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("join interrupted: %w", err)
	}
	return c, nil
}

// Rollback removes what Commit created: the published config and the
// token, which then stops working. Uploaded certificates stay: they belong
// to the short-lived token kubeadm makes for them and go with it. Errors
// name what is left.
func (c *Committed) Rollback(ctx context.Context) error {
	var errs []error
	if c.Published.Name != "" {
		if err := c.pub.Unpublish(ctx, c.Published.Name); err != nil {
			errs = append(errs, fmt.Errorf("unpublish %s: %w", c.Published.Name, err))
		} else {
			c.Published = ignitionhost.Entry{}
		}
	}
	if c.tokenCreated {
		if err := jointoken.Delete(ctx, c.cs, c.tokenID); err != nil {
			errs = append(errs, err)
		} else {
			c.tokenCreated = false
		}
	}
	return errors.Join(errs...)
}

func expiry(t jointoken.Token) string {
	if t.Expires.IsZero() {
		return "never"
	}
	return t.Expires.Format(time.RFC3339)
}
