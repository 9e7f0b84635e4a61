// Command misbehave is a deliberately faulty Ignition hosting plugin for
// tests; what goes wrong depends on the name it is installed under:
//
//	ocne-ignition-crash         dies (panics) in the middle of Publish
//	ocne-ignition-wrongversion  speaks plugin protocol version 99
//	ocne-ignition-hang          never answers Publish, even when cancelled
//	ocne-ignition-broken        publishes, but List drops the expiry and
//	                            Unpublish leaves the file served: the
//	                            conformance suite must fail it
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/go-plugin"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
)

func main() {
	switch strings.TrimPrefix(filepath.Base(os.Args[0]), "ocne-ignition-") {
	case "wrongversion":
		hs := ignitionhost.Handshake
		hs.ProtocolVersion = 99
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: hs,
			Plugins:         map[string]plugin.Plugin{ignitionhost.PluginName: &ignitionhost.GRPCPlugin{Impl: &broken{}}},
			GRPCServer:      plugin.DefaultGRPCServer,
		})
	case "crash":
		ignitionhost.Serve(&crash{})
	case "hang":
		ignitionhost.Serve(&hang{})
	default:
		ignitionhost.Serve(&broken{entries: map[string]ignitionhost.Entry{}})
	}
}

type crash struct{ broken }

func (*crash) Publish(context.Context, ignitionhost.PublishRequest) (string, error) {
	panic("deliberate crash in Publish")
}

type hang struct{ broken }

func (*hang) Publish(context.Context, ignitionhost.PublishRequest) (string, error) {
	select {}
}

// broken keeps its list in memory and gets the contract subtly wrong.
type broken struct {
	mu      sync.Mutex
	entries map[string]ignitionhost.Entry
}

func (b *broken) Publish(_ context.Context, r ignitionhost.PublishRequest) (string, error) {
	if err := os.WriteFile(filepath.Join(r.Options["dir"], r.Name), r.Config, 0o600); err != nil {
		return "", err
	}
	url := strings.TrimSuffix(r.Options["base-url"], "/") + "/" + r.Name
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries[r.Name] = ignitionhost.Entry{Name: r.Name, URL: url} // expiry dropped
	return url, nil
}

func (b *broken) Unpublish(_ context.Context, name string, _ map[string]string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.entries[name]; !ok {
		return fmt.Errorf("%s: %w", name, ignitionhost.ErrNotFound)
	}
	delete(b.entries, name) // the served file stays
	return nil
}

func (b *broken) List(context.Context, map[string]string) ([]ignitionhost.Entry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []ignitionhost.Entry
	for _, e := range b.entries {
		out = append(out, e)
	}
	return out, nil
}

func (b *broken) Health(context.Context, map[string]string) error { return nil }
