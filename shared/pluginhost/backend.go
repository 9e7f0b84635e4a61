package pluginhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/shared/config"
)

// ErrUnknownBackend: no built-in and no plugin has the name asked for.
var ErrUnknownBackend = errors.New("unknown Ignition hosting backend")

// Options configure Open.
type Options struct {
	// Builtins are the backends compiled into the program, by name. The
	// command layer passes them, so this package links none of their
	// dependencies (the cluster backend's client-go) into plugin tests.
	Builtins Builtins
	// Plugins is ignitionPlugins from the config files: checksums and
	// default backend options.
	Plugins map[string]config.IgnitionPlugin
	// Dirs is where plugins are looked for; nil: SearchDirs().
	Dirs []string
	// BackendOptions (--publish-opt) override the configured options.
	BackendOptions map[string]string
	// Log receives the plugin's own log (-v); nil discards it.
	Log io.Writer
	// Warn receives one-line warnings, e.g. a plugin run without a
	// configured checksum; nil discards them.
	Warn func(format string, args ...any)
}

// Backend is an opened backend. Close it: that stops a plugin process.
type Backend struct {
	Name string
	// Path is the plugin executable; empty for built-ins.
	Path    string
	options map[string]string
	host    ignitionhost.IgnitionHost
	plugin  *pluginProcess
}

// Publication says how to publish one config.
type Publication struct {
	// Name to publish under; empty: a random, unguessable one.
	Name     string
	Selector map[string]string
	// Expires is when the config's token expires; zero: never.
	Expires time.Time
}

// Builtins maps a built-in backend's name to its implementation, which
// stands behind the same interface as a plugin.
type Builtins map[string]ignitionhost.IgnitionHost

// Open finds and starts the backend called name: a built-in of
// o.Builtins, else a plugin.
func Open(ctx context.Context, name string, o Options) (*Backend, error) {
	opts := map[string]string{}
	maps.Copy(opts, o.Plugins[name].Options)
	maps.Copy(opts, o.BackendOptions)
	if host, ok := o.Builtins[name]; ok {
		return &Backend{Name: name, options: opts, host: host}, nil
	}
	dirs := o.Dirs
	if dirs == nil {
		dirs = SearchDirs()
	}
	path, _ := find(dirs, name)
	if path == "" {
		return nil, fmt.Errorf("%w %q: not built in and no %s%s in ~/.ocne/plugins or PATH; see 'kubectl ocne-image plugins list'", ErrUnknownBackend, name, Prefix, name)
	}
	return OpenPlugin(ctx, path, o)
}

// OpenPlugin starts the plugin executable at path, whatever its name: the
// backend's name is the file name without ocne-ignition-.
func OpenPlugin(ctx context.Context, path string, o Options) (*Backend, error) {
	name := strings.TrimPrefix(filepath.Base(path), Prefix)
	opts := map[string]string{}
	maps.Copy(opts, o.Plugins[name].Options)
	maps.Copy(opts, o.BackendOptions)
	want := o.Plugins[name].SHA256
	if want == "" && o.Warn != nil {
		if sum, err := fileSHA256(path); err == nil {
			o.Warn("plugin %s has no checksum configured; to pin it add to ~/.ocne/ocne-image.yaml: ignitionPlugins: {%s: {sha256: %s}}", path, name, sum)
		}
	}
	p, host, err := launch(ctx, name, path, want, o.Log)
	if err != nil {
		return nil, err
	}
	return &Backend{Name: name, Path: path, options: opts, host: host, plugin: p}, nil
}

// Close stops the plugin process, if any.
func (b *Backend) Close() {
	if b.plugin != nil {
		b.plugin.kill()
	}
}

// Options returns the backend options in effect (they may hold secrets).
func (b *Backend) Options() map[string]string { return maps.Clone(b.options) }

// Publish publishes config and returns the URL a node boots with.
func (b *Backend) Publish(ctx context.Context, config []byte, p Publication) (ignitionhost.Entry, error) {
	name := p.Name
	if name == "" {
		name = RandomName()
	}
	if err := ignitionhost.ValidName(name); err != nil {
		return ignitionhost.Entry{}, err
	}
	url, err := b.host.Publish(ctx, ignitionhost.PublishRequest{
		Name: name, Config: config, Selector: p.Selector, Expires: p.Expires, Options: b.options,
	})
	if err != nil {
		return ignitionhost.Entry{}, b.explain("publish "+name, err)
	}
	return ignitionhost.Entry{Name: name, URL: url, Selector: p.Selector, Expires: p.Expires}, nil
}

// Unpublish deletes what was published under name.
func (b *Backend) Unpublish(ctx context.Context, name string) error {
	if err := ignitionhost.ValidName(name); err != nil {
		return err
	}
	return b.explain("unpublish "+name, b.host.Unpublish(ctx, name, b.options))
}

// List returns what the backend published, expired entries included.
func (b *Backend) List(ctx context.Context) ([]ignitionhost.Entry, error) {
	entries, err := b.host.List(ctx, b.options)
	return entries, b.explain("list", err)
}

// Health checks the backend answers.
func (b *Backend) Health(ctx context.Context) error {
	return b.explain("health check", b.host.Health(ctx, b.options))
}

// explain makes a backend failure one line that names the backend and,
// for a plugin that died, says how it died.
func (b *Backend) explain(what string, err error) error {
	if err == nil {
		return nil
	}
	if b.plugin != nil && (errors.Is(err, ignitionhost.ErrPluginGone) || b.plugin.exited()) {
		return fmt.Errorf("%s on backend %s: plugin %s exited mid-call%s: %w", what, b.Name, b.Path, b.plugin.lastWords(), ignitionhost.ErrPluginGone)
	}
	return fmt.Errorf("%s on backend %s: %w", what, b.Name, err)
}

// RandomName returns a name nobody can guess (128 random bits): the URL
// is the only secret standing between the join token and the network.
func RandomName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
