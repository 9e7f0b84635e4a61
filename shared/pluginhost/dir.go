package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/plugins/ignitionhost/ledger"
)

// DirHost is the built-in `dir` backend: it writes configs into a directory a web server exposes (such as
// the one `podman-ocne serve` serves at /ignition/). Options: dir, base-url
// (what the directory is served as), ledger-dir (default ~/.ocne/published).
type DirHost struct{}

func (DirHost) open(options map[string]string) (dir, base string, l *ledger.Ledger, err error) {
	if dir, err = ignitionhost.Option(options, "dir"); err != nil {
		return
	}
	if base, err = ignitionhost.Option(options, "base-url"); err != nil {
		return
	}
	if u, perr := url.Parse(base); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		err = fmt.Errorf("option base-url %q: want http(s)://HOST[:PORT]/PATH: %w", base, ignitionhost.ErrInvalidOptions)
		return
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return
	}
	l, err = ledger.Open(options["ledger-dir"], "dir", dir)
	return dir, strings.TrimSuffix(base, "/"), l, err
}

func (h DirHost) Publish(_ context.Context, r ignitionhost.PublishRequest) (string, error) {
	dir, base, l, err := h.open(r.Options)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("option dir %s is not a directory: %w", dir, ignitionhost.ErrInvalidOptions)
	}
	if err := ledger.WriteFileAtomic(filepath.Join(dir, r.Name), r.Config); err != nil {
		return "", err
	}
	e := ignitionhost.Entry{Name: r.Name, URL: base + "/" + r.Name, Selector: r.Selector, Expires: r.Expires}
	return e.URL, l.Put(e)
}

func (h DirHost) Unpublish(_ context.Context, name string, options map[string]string) error {
	dir, _, l, err := h.open(options)
	if err != nil {
		return err
	}
	_, recorded, err := l.Get(name)
	if err != nil {
		return err
	}
	err = os.Remove(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		if !recorded {
			return fmt.Errorf("%s in %s: %w", name, dir, ignitionhost.ErrNotFound)
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return l.Delete(name)
}

func (h DirHost) List(_ context.Context, options map[string]string) ([]ignitionhost.Entry, error) {
	_, _, l, err := h.open(options)
	if err != nil {
		return nil, err
	}
	return l.Entries()
}

func (h DirHost) Health(_ context.Context, options map[string]string) error {
	dir, _, _, err := h.open(options)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".health-*")
	if err != nil {
		return fmt.Errorf("cannot write into %s: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}
