package ignitionhost

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
)

// fake is an in-memory IgnitionHost: these tests check the gRPC adapters,
// not a backend (the conformance suite checks real ones).
type fake struct {
	err     error
	got     PublishRequest
	entries []Entry
}

func (f *fake) Publish(_ context.Context, r PublishRequest) (string, error) {
	f.got = r
	return "http://example.test/" + r.Name, f.err
}
func (f *fake) Unpublish(context.Context, string, map[string]string) error { return f.err }
func (f *fake) List(context.Context, map[string]string) ([]Entry, error)   { return f.entries, f.err }
func (f *fake) Health(context.Context, map[string]string) error            { return f.err }

// dispense connects to impl over a real in-process gRPC connection.
func dispense(t *testing.T, impl IgnitionHost) IgnitionHost {
	t.Helper()
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{PluginName: &GRPCPlugin{Impl: impl}})
	t.Cleanup(func() { client.Close(); server.Stop() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(IgnitionHost)
}

func TestRoundTrip(t *testing.T) {
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f := &fake{entries: []Entry{{Name: "a", URL: "u", Selector: map[string]string{"mac": "m"}, Expires: expires}, {Name: "b"}}}
	h := dispense(t, f)
	req := PublishRequest{Name: "n1", Config: []byte(`{}`), Selector: map[string]string{"uuid": "x"}, Expires: expires, Options: map[string]string{"k": "v"}}
	url, err := h.Publish(context.Background(), req)
	if err != nil || url != "http://example.test/n1" {
		t.Fatalf("Publish: %q %v", url, err)
	}
	if string(f.got.Config) != "{}" || f.got.Selector["uuid"] != "x" || !f.got.Expires.Equal(expires) || f.got.Options["k"] != "v" {
		t.Errorf("the plugin got %+v", f.got)
	}
	entries, err := h.List(context.Background(), nil)
	if err != nil || len(entries) != 2 || !entries[0].Expires.Equal(expires) || !entries[1].Expires.IsZero() || entries[0].Selector["mac"] != "m" {
		t.Errorf("List: %+v %v", entries, err)
	}
}

// TestErrors: the sentinels survive the wire; the message stays one line
// without gRPC's "rpc error: code = ..." prefix.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		sentinel error
		msg      string
	}{
		{"not found", fmt.Errorf("x on y: %w", ErrNotFound), ErrNotFound, "x on y: not published"},
		{"invalid", fmt.Errorf("option a is required: %w", ErrInvalidOptions), ErrInvalidOptions, "option a is required: invalid options"},
		{"missing", fmt.Errorf("publish: %w", &MissingOptionError{Key: "dir"}), ErrInvalidOptions, "publish: option dir is required: invalid options"},
		{"plain", errors.New("disk full"), nil, "disk full"},
		{"deadline", context.DeadlineExceeded, context.DeadlineExceeded, "context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := dispense(t, &fake{err: tc.err})
			err := h.Health(context.Background(), nil)
			if err == nil || err.Error() != tc.msg || (tc.sentinel != nil && !errors.Is(err, tc.sentinel)) {
				t.Errorf("got %v, want %q wrapping %v", err, tc.msg, tc.sentinel)
			}
			// The missing option's name crosses the wire too.
			var sent, got *MissingOptionError
			if errors.As(tc.err, &sent) && (!errors.As(err, &got) || got.Key != sent.Key) {
				t.Errorf("got %#v, want a MissingOptionError for %s", err, sent.Key)
			}
		})
	}
}

func TestInvalidNameRefusedByThePluginSide(t *testing.T) {
	h := dispense(t, &fake{})
	for _, name := range []string{"", "../x", ".hidden", "a/b", string(make([]byte, 129))} {
		if _, err := h.Publish(context.Background(), PublishRequest{Name: name}); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Publish %q: %v", name, err)
		}
	}
}
