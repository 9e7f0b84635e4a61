// Package podman drives a Podman service over its REST socket (the v5
// bindings, which also speak to Podman 4.3): loading the archive server
// image and running it as the archive HTTP server.
package podman

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/system"
)

// RootfulSocket is where a rootful Podman service listens by default.
const RootfulSocket = "/run/podman/podman.sock"

// DefaultConnectTimeout bounds the first ping: a socket that accepts but
// never answers would otherwise hang every command.
const DefaultConnectTimeout = 5 * time.Second

// startHint tells the user how to get a service on the socket.
const startHint = "start it with 'systemctl --user enable --now podman.socket' " +
	"(as root: 'systemctl enable --now podman.socket') or 'podman system service --time=0 &'"

// UnreachableError is a Podman service that is not there, or does not
// answer; the message says how to start one.
type UnreachableError struct {
	URL string
	msg string
}

func (e *UnreachableError) Error() string { return e.msg }

// SocketURL picks the service address the way podman-remote does: the
// flag, then CONTAINER_HOST, then the rootless socket if it exists, then
// the rootful one. getenv and exists are parameters so the order can be
// tested without touching the host.
func SocketURL(flag string, getenv func(string) string, exists func(string) bool) string {
	if flag != "" {
		return flag
	}
	if h := getenv("CONTAINER_HOST"); h != "" {
		return h
	}
	if dir := getenv("XDG_RUNTIME_DIR"); dir != "" {
		if sock := filepath.Join(dir, "podman", "podman.sock"); exists(sock) {
			return "unix://" + sock
		}
	}
	return "unix://" + RootfulSocket
}

// DefaultSocketURL is SocketURL on this process's environment.
func DefaultSocketURL(flag string) string {
	return SocketURL(flag, os.Getenv, func(p string) bool {
		_, err := os.Stat(p)
		return err == nil
	})
}

// CheckURL rejects what cannot name a Podman service.
func CheckURL(uri string) error {
	u, err := url.Parse(uri)
	if err != nil || !slices.Contains([]string{"unix", "tcp", "ssh"}, u.Scheme) {
		return fmt.Errorf("invalid Podman URL %q: use unix:///path/to/podman.sock, tcp://HOST:PORT or ssh://USER@HOST/path/to/podman.sock", uri)
	}
	return nil
}

// Client is a connection to one Podman service.
type Client struct {
	ctx     context.Context // carries the bindings' connection
	cancel  context.CancelFunc
	URL     string
	Version string // the service's API version
}

// Connect pings the service at uri. It fails within timeout (0 means
// DefaultConnectTimeout) with a one-line error that says how to start the
// service. The returned Client's calls are cancelled when ctx is.
func Connect(ctx context.Context, uri string, timeout time.Duration) (*Client, error) {
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	if err := CheckURL(uri); err != nil {
		return nil, err
	}
	// Not context.WithTimeout: the bindings keep this context for every
	// later call, and a deadline would cut a long image load short. The
	// timer only guards the ping.
	cctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(timeout, cancel)
	conn, err := bindings.NewConnection(cctx, uri)
	timedOut := !timer.Stop()
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, connectError(uri, err, timedOut, timeout)
	}
	c := &Client{ctx: conn, cancel: cancel, URL: uri}
	if v := bindings.ServiceVersion(conn); v != nil {
		c.Version = v.String()
	}
	return c, nil
}

// Close releases the connection.
func (c *Client) Close() { c.cancel() }

func connectError(uri string, err error, timedOut bool, timeout time.Duration) error {
	unreachable := func(format string, args ...any) error {
		return &UnreachableError{URL: uri, msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case timedOut:
		return unreachable("the Podman service at %s did not answer within %s: check that 'podman system service' is healthy there", uri, timeout)
	case errors.Is(err, syscall.ENOENT):
		return unreachable("no Podman service at %s (no such socket): %s", uri, startHint)
	case errors.Is(err, syscall.ECONNREFUSED):
		return unreachable("no Podman service listening at %s (connection refused): %s", uri, startHint)
	case errors.Is(err, syscall.EACCES):
		return unreachable("permission denied on the Podman socket %s: run as its owner, or use your own (rootless) service: %s", uri, startHint)
	}
	return fmt.Errorf("connect to the Podman service at %s: %v", uri, oneLine(err))
}

// Service is what status reports about the Podman service itself.
type Service struct {
	URL     string `json:"url"`
	Version string `json:"version"` // the Podman release, e.g. "5.8.2"
}

// Service asks the service which Podman it runs. Its API version (Version)
// is what the bindings negotiate on; this is what users compare with
// `podman version`.
func (c *Client) Service() (*Service, error) {
	rep, err := system.Version(c.ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("ask the Podman service at %s for its version: %s", c.URL, oneLine(err))
	}
	if rep.Server == nil || rep.Server.Version == "" {
		return nil, fmt.Errorf("the Podman service at %s did not report its version", c.URL)
	}
	return &Service{URL: c.URL, Version: rep.Server.Version}, nil
}
