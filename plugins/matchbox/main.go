// Command ocne-ignition-matchbox is an Ignition hosting plugin that
// publishes through matchbox's gRPC API (poseidon/matchbox v0.11): the
// config as an Ignition template, a profile that uses it, and a group
// that gives that profile to the node matching the selector. Nodes fetch
// http://MATCHBOX/ignition?mac=... (or ?uuid=...).
//
// Options (--publish-opt key=value):
//
//	endpoint   matchbox's gRPC API, HOST:PORT (required)
//	http-url   matchbox's HTTP address as nodes reach it, e.g. http://matchbox.example.com:8080 (required)
//	ca-file, cert-file, key-file   the client TLS credentials matchbox's API requires (required)
//
// Publish needs a selector (--selector mac=... or uuid=...): a group
// without one would hand the join token to every machine that asks.
// matchbox v0.11 parses configs as Ignition spec 3.4 at most.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	mbclient "github.com/poseidon/matchbox/matchbox/client"
	"github.com/poseidon/matchbox/matchbox/server/serverpb"
	"github.com/poseidon/matchbox/matchbox/storage/storagepb"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
)

func main() { ignitionhost.Serve(matchbox{}) }

type matchbox struct{}

// metadataKey marks the groups this plugin made, in the group's metadata
// (matchbox keeps no other free-form field), with their expiry.
const metadataKey = "ocne_image_publication"

type publication struct {
	Expires time.Time `json:"expires,omitzero"`
}

type conn struct {
	c       *mbclient.Client
	httpURL string
}

func dial(o map[string]string) (*conn, error) {
	var vals [5]string
	for i, k := range []string{"endpoint", "http-url", "ca-file", "cert-file", "key-file"} {
		v, err := ignitionhost.Option(o, k)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	endpoint, httpURL, caFile, certFile, keyFile := vals[0], vals[1], vals[2], vals[3], vals[4]
	if u, err := url.Parse(httpURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("option http-url %q: want http(s)://HOST[:PORT]: %w", httpURL, ignitionhost.ErrInvalidOptions)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("options cert-file/key-file: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("option ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("option ca-file %s holds no PEM certificate: %w", caFile, ignitionhost.ErrInvalidOptions)
	}
	c, err := mbclient.New(&mbclient.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 10 * time.Second,
		TLS:         &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to matchbox at %s: %w", endpoint, err)
	}
	return &conn{c: c, httpURL: strings.TrimSuffix(httpURL, "/")}, nil
}

// nodeURL is what a node matching selector fetches; matchbox matches
// query parameters against group selectors.
func (c *conn) nodeURL(selector map[string]string) string {
	q := url.Values{}
	for k, v := range selector {
		q.Set(k, v)
	}
	return c.httpURL + "/ignition?" + q.Encode()
}

func (matchbox) Publish(ctx context.Context, r ignitionhost.PublishRequest) (string, error) {
	if len(r.Selector) == 0 {
		return "", fmt.Errorf("matchbox needs a node selector (mac=... or uuid=...), else every machine gets this config: %w", ignitionhost.ErrInvalidOptions)
	}
	selector := map[string]string{}
	for k, v := range r.Selector {
		if k == "mac" {
			// matchbox compares normalized MACs (lower case, colons).
			mac, err := net.ParseMAC(v)
			if err != nil {
				return "", fmt.Errorf("selector mac=%s: %v: %w", v, err, ignitionhost.ErrInvalidOptions)
			}
			v = mac.String()
		}
		selector[k] = v
	}
	c, err := dial(r.Options)
	if err != nil {
		return "", err
	}
	defer c.c.Close()
	// matchbox would pick one of two groups with the same selector
	// arbitrarily: a node gets one config at a time.
	ours, err := c.ours(ctx)
	if err != nil {
		return "", err
	}
	for _, e := range ours {
		if e.Name != r.Name && maps.Equal(e.Selector, selector) {
			return "", fmt.Errorf("this node selector already gets published config %s from matchbox: unpublish it first", e.Name)
		}
	}
	meta, _ := json.Marshal(map[string]publication{metadataKey: {Expires: r.Expires}})
	// matchbox serves a template named *.ign as Ignition without rendering.
	ign := r.Name + ".ign"
	if _, err := c.c.Ignition.IgnitionPut(ctx, &serverpb.IgnitionPutRequest{Name: ign, Config: r.Config}); err != nil {
		return "", fmt.Errorf("matchbox IgnitionPut: %w", err)
	}
	profile := &storagepb.Profile{Id: r.Name, Name: "ocne-image " + r.Name, IgnitionId: ign}
	if _, err := c.c.Profiles.ProfilePut(ctx, &serverpb.ProfilePutRequest{Profile: profile}); err != nil {
		return "", fmt.Errorf("matchbox ProfilePut: %w", err)
	}
	group := &storagepb.Group{Id: r.Name, Name: "ocne-image " + r.Name, Profile: r.Name, Selector: selector, Metadata: meta}
	if _, err := c.c.Groups.GroupPut(ctx, &serverpb.GroupPutRequest{Group: group}); err != nil {
		return "", fmt.Errorf("matchbox GroupPut: %w", err)
	}
	return c.nodeURL(selector), nil
}

// ours returns the groups this plugin made.
func (c *conn) ours(ctx context.Context) (map[string]ignitionhost.Entry, error) {
	resp, err := c.c.Groups.GroupList(ctx, &serverpb.GroupListRequest{})
	if err != nil {
		return nil, fmt.Errorf("matchbox GroupList: %w", err)
	}
	entries := map[string]ignitionhost.Entry{}
	for _, g := range resp.Groups {
		var meta map[string]*publication
		if json.Unmarshal(g.Metadata, &meta) != nil || meta[metadataKey] == nil {
			continue
		}
		entries[g.Id] = ignitionhost.Entry{Name: g.Id, URL: c.nodeURL(g.Selector), Selector: g.Selector, Expires: meta[metadataKey].Expires}
	}
	return entries, nil
}

func (matchbox) Unpublish(ctx context.Context, name string, o map[string]string) error {
	c, err := dial(o)
	if err != nil {
		return err
	}
	defer c.c.Close()
	entries, err := c.ours(ctx)
	if err != nil {
		return err
	}
	if _, ok := entries[name]; !ok {
		return fmt.Errorf("no ocne-image group %s in matchbox: %w", name, ignitionhost.ErrNotFound)
	}
	// The group first: once it is gone no node gets the config.
	if _, err := c.c.Groups.GroupDelete(ctx, &serverpb.GroupDeleteRequest{Id: name}); err != nil {
		return fmt.Errorf("matchbox GroupDelete %s: %w", name, err)
	}
	if _, err := c.c.Profiles.ProfileDelete(ctx, &serverpb.ProfileDeleteRequest{Id: name}); err != nil {
		return fmt.Errorf("matchbox ProfileDelete %s: %w", name, err)
	}
	if _, err := c.c.Ignition.IgnitionDelete(ctx, &serverpb.IgnitionDeleteRequest{Name: name + ".ign"}); err != nil {
		return fmt.Errorf("matchbox IgnitionDelete %s.ign: %w", name, err)
	}
	return nil
}

func (matchbox) List(ctx context.Context, o map[string]string) ([]ignitionhost.Entry, error) {
	c, err := dial(o)
	if err != nil {
		return nil, err
	}
	defer c.c.Close()
	m, err := c.ours(ctx)
	if err != nil {
		return nil, err
	}
	entries := make([]ignitionhost.Entry, 0, len(m))
	for _, e := range m {
		entries = append(entries, e)
	}
	return entries, nil
}

func (matchbox) Health(ctx context.Context, o map[string]string) error {
	c, err := dial(o)
	if err != nil {
		return err
	}
	defer c.c.Close()
	_, err = c.ours(ctx)
	return err
}
