// Package conformance checks that an Ignition hosting backend keeps the
// IgnitionHost contract, by driving it exactly as `kubectl ocne-image`
// does (go-plugin, the same host code) and fetching what it publishes the
// way a node would. A plugin author runs it against their binary:
//
//	go test ./plugins/conformance -plugin PATH -opt key=value ...
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/shared/pluginhost"
)

// Config says which backend to check and how to reach its server.
type Config struct {
	// Plugin is the plugin executable; or Builtin names a built-in backend
	// and Host is its implementation (pluginhost.DirHost{},
	// clusterserve.IgnitionHost{}): passed in, so the suite links no
	// built-in's dependencies.
	Plugin  string
	Builtin string
	Host    ignitionhost.IgnitionHost
	// Options are the backend options (--publish-opt).
	Options map[string]string
	// Selector is the node selector of the main publication; nil: a
	// random MAC. Other publications get random MACs: a node has one
	// config at a time.
	Selector map[string]string
	// Client fetches published URLs; nil: http.DefaultClient.
	Client *http.Client
}

// Run runs the contract as subtests of t.
func Run(t *testing.T, cfg Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := pluginhost.Options{BackendOptions: cfg.Options}
	var b *pluginhost.Backend
	var err error
	if cfg.Plugin != "" {
		b, err = pluginhost.OpenPlugin(ctx, cfg.Plugin, o)
	} else {
		o.Builtins = pluginhost.Builtins{cfg.Builtin: cfg.Host}
		b, err = pluginhost.Open(ctx, cfg.Builtin, o)
	}
	if err != nil {
		t.Fatalf("open backend: %v", err)
	}
	defer b.Close()
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	c := &checker{b: b, cfg: cfg}
	defer c.cleanup(t, ctx)

	t.Run("Health", func(t *testing.T) {
		if err := b.Health(ctx); err != nil {
			t.Fatalf("Health: %v", err)
		}
	})
	var published ignitionhost.Entry
	t.Run("PublishServesTheConfig", func(t *testing.T) {
		published = c.publish(t, ctx, "", cfg.Selector, time.Now().Add(time.Hour))
		if published.Name == "" {
			t.Fatal("no name")
		}
	})
	if published.Name == "" {
		t.Fatal("publish failed: the other checks need a published config")
	}
	t.Run("ListReportsItWithExpiry", func(t *testing.T) {
		e := c.listed(t, ctx, published.Name)
		if e == nil {
			t.Fatalf("List does not report %s", published.Name)
		}
		if e.URL != published.URL {
			t.Errorf("List URL %q, Publish returned %q", e.URL, published.URL)
		}
		if !e.Expires.Equal(published.Expires) {
			t.Errorf("List expiry %v, published with %v", e.Expires, published.Expires)
		}
	})
	t.Run("RepublishReplaces", func(t *testing.T) {
		c.publish(t, ctx, published.Name, published.Selector, published.Expires)
	})
	t.Run("ExpiredIsListed", func(t *testing.T) {
		e := c.publish(t, ctx, "", nil, time.Now().Add(-time.Minute))
		l := c.listed(t, ctx, e.Name)
		if l == nil || !l.Expired(time.Now()) {
			t.Fatalf("List must keep reporting %s, expired: %+v", e.Name, l)
		}
	})
	t.Run("UnpublishDeletes", func(t *testing.T) {
		if err := b.Unpublish(ctx, published.Name); err != nil {
			t.Fatalf("Unpublish: %v", err)
		}
		c.forget(published.Name)
		if code, _, err := c.fetch(ctx, published.URL); err != nil || code == http.StatusOK {
			t.Errorf("after Unpublish, GET %s = %d, %v; want it gone", published.URL, code, err)
		}
		if c.listed(t, ctx, published.Name) != nil {
			t.Errorf("List still reports %s after Unpublish", published.Name)
		}
	})
	t.Run("UnpublishUnknownIsNotFound", func(t *testing.T) {
		err := b.Unpublish(ctx, pluginhost.RandomName())
		if !errors.Is(err, ignitionhost.ErrNotFound) {
			t.Errorf("Unpublish of a name never published: %v; want an error wrapping ErrNotFound (gRPC NOT_FOUND)", err)
		}
	})
}

type checker struct {
	b         *pluginhost.Backend
	cfg       Config
	published []string
}

// publish publishes a fresh config (name "" = random; selector nil = a
// random MAC) and checks a node gets exactly it from the returned URL.
func (c *checker) publish(t *testing.T, ctx context.Context, name string, selector map[string]string, expires time.Time) ignitionhost.Entry {
	t.Helper()
	expires = expires.UTC().Truncate(time.Second)
	if selector == nil {
		selector = map[string]string{"mac": randomMAC()}
	}
	config := sampleConfig()
	e, err := c.b.Publish(ctx, config, pluginhost.Publication{Name: name, Selector: selector, Expires: expires})
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	c.published = append(c.published, e.Name)
	code, body, err := c.fetch(ctx, e.URL)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s (as a node would): %d, %v", e.URL, code, err)
	}
	var got, want any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("GET %s: not JSON: %v", e.URL, err)
	}
	json.Unmarshal(config, &want)
	if !reflect.DeepEqual(prune(got), prune(want)) {
		t.Fatalf("GET %s serves\n%s\nwant\n%s", e.URL, body, config)
	}
	return e
}

func (c *checker) listed(t *testing.T, ctx context.Context, name string) *ignitionhost.Entry {
	t.Helper()
	entries, err := c.b.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	i := slices.IndexFunc(entries, func(e ignitionhost.Entry) bool { return e.Name == name })
	if i < 0 {
		return nil
	}
	return &entries[i]
}

func (c *checker) fetch(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.cfg.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

func (c *checker) forget(name string) {
	c.published = slices.DeleteFunc(c.published, func(n string) bool { return n == name })
}

// cleanup unpublishes what the checks left behind.
func (c *checker) cleanup(t *testing.T, ctx context.Context) {
	for _, n := range slices.Compact(slices.Sorted(slices.Values(c.published))) {
		if err := c.b.Unpublish(ctx, n); err != nil && !errors.Is(err, ignitionhost.ErrNotFound) {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// sampleConfig is a small Ignition config, different every call.
func sampleConfig() []byte {
	marker := pluginhost.RandomName()
	return fmt.Appendf(nil, `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/ocne-conformance","mode":384,"contents":{"source":"data:,%s"}}]}}`, marker)
}

// randomMAC is a locally administered unicast MAC.
func randomMAC() string {
	b := make([]byte, 6)
	rand.Read(b)
	b[0] = b[0]&0xfc | 0x02
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5])
}

// prune drops empty objects, empty lists and nulls: Ignition reads them as
// absent, and servers that re-render a config through Ignition's types
// (matchbox) add them.
func prune(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if x = prune(x); x != nil {
				out[k] = x
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		var out []any
		for _, x := range v {
			if x = prune(x); x != nil {
				out = append(out, x)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}
