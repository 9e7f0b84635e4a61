// Package ignitionhost is the SDK for Ignition hosting plugins of
// `kubectl ocne-image`: the IgnitionHost interface a backend implements,
// the gRPC adapters that carry it over hashicorp/go-plugin, the versioned
// handshake, and Serve for a plugin's main. It imports neither Kubernetes
// nor Podman, so a plugin stays a small build.
package ignitionhost

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// IgnitionHost is what a hosting backend does. Options are the backend's
// settings (--publish-opt key=value, and the configuration files); they may hold
// credentials, so implementations must never log them.
type IgnitionHost interface {
	// Publish stores req.Config under req.Name and returns the URL a node
	// boots with. Publishing an existing name replaces it.
	Publish(ctx context.Context, req PublishRequest) (url string, err error)
	// Unpublish deletes the config, remote copies included; an unknown
	// name is an error wrapping ErrNotFound.
	Unpublish(ctx context.Context, name string, options map[string]string) error
	// List returns what this backend published, expired entries included:
	// the host reports those so the user can unpublish them.
	List(ctx context.Context, options map[string]string) ([]Entry, error)
	// Health checks the backend answers with these options.
	Health(ctx context.Context, options map[string]string) error
}

// PublishRequest is one config to publish.
type PublishRequest struct {
	// Name is chosen by the host: random (unguessable) unless the user
	// named it. It always satisfies ValidName.
	Name string
	// Config is the Ignition JSON; it holds a join token.
	Config []byte
	// Selector says which node may fetch it (mac, uuid), for backends that
	// select by node; others record it and ignore it.
	Selector map[string]string
	// Expires is when the config's join token stops working; zero: never.
	Expires time.Time
	Options map[string]string
}

// Entry is one published config.
type Entry struct {
	Name     string            `json:"name"`
	URL      string            `json:"url"`
	Selector map[string]string `json:"selector,omitempty"`
	Expires  time.Time         `json:"expires,omitzero"`
}

// Expired reports whether the entry's token has expired at now.
func (e Entry) Expired(now time.Time) bool {
	return !e.Expires.IsZero() && now.After(e.Expires)
}

// Errors a backend returns (wrapped) so the host can tell the user what
// to do; they survive the trip over gRPC.
var (
	// ErrNotFound: nothing is published under the name.
	ErrNotFound = errors.New("not published")
	// ErrInvalidOptions: an option is missing or wrong; the user must fix
	// the command line, not retry.
	ErrInvalidOptions = errors.New("invalid options")
)

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidName checks a published name: it becomes part of URLs and file
// names, so only [A-Za-z0-9._-], not starting with a dot or dash.
func ValidName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("name %q: use 1-128 of A-Z a-z 0-9 . _ - starting with a letter or digit: %w", name, ErrInvalidOptions)
	}
	return nil
}

// Option returns options[key], or a MissingOptionError.
func Option(options map[string]string, key string) (string, error) {
	v := options[key]
	if v == "" {
		return "", &MissingOptionError{Key: key}
	}
	return v, nil
}

// MissingOptionError is ErrInvalidOptions for an option that must be
// given. The host learns Key across the wire too, and says how to pass it.
type MissingOptionError struct{ Key string }

func (e *MissingOptionError) Error() string {
	return "option " + e.Key + " is required: " + ErrInvalidOptions.Error()
}

func (e *MissingOptionError) Is(target error) bool { return target == ErrInvalidOptions }
