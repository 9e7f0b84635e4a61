// Command example is the smallest useful Ignition hosting plugin: it
// writes configs into a directory some web server already serves, and
// keeps its list in a ledger. Copy it to start a plugin of your own;
// plugins/README.md says how to build, install and test it.
//
//	go build -o ~/.ocne/plugins/ocne-ignition-example ./plugins/example
//	kubectl ocne-image ignition publish --backend example \
//	  --publish-opt dir=/var/www/ign --publish-opt base-url=http://web/ign node.ign
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/plugins/ignitionhost/ledger"
)

func main() { ignitionhost.Serve(webroot{}) }

type webroot struct{}

// open reads the options every call gets.
func open(o map[string]string) (dir, base string, l *ledger.Ledger, err error) {
	if dir, err = ignitionhost.Option(o, "dir"); err != nil {
		return
	}
	if base, err = ignitionhost.Option(o, "base-url"); err != nil {
		return
	}
	l, err = ledger.Open(o["ledger-dir"], "example", dir)
	return dir, strings.TrimSuffix(base, "/"), l, err
}

func (webroot) Publish(_ context.Context, r ignitionhost.PublishRequest) (string, error) {
	dir, base, l, err := open(r.Options)
	if err != nil {
		return "", err
	}
	// 0600 and atomic: the config holds a join token.
	if err := ledger.WriteFileAtomic(filepath.Join(dir, r.Name), r.Config); err != nil {
		return "", err
	}
	url := base + "/" + r.Name
	return url, l.Put(ignitionhost.Entry{Name: r.Name, URL: url, Selector: r.Selector, Expires: r.Expires})
}

func (webroot) Unpublish(_ context.Context, name string, o map[string]string) error {
	dir, _, l, err := open(o)
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, ignitionhost.ErrNotFound)
	} else if err != nil {
		return err
	}
	return l.Delete(name)
}

func (webroot) List(_ context.Context, o map[string]string) ([]ignitionhost.Entry, error) {
	_, _, l, err := open(o)
	if err != nil {
		return nil, err
	}
	return l.Entries()
}

func (webroot) Health(_ context.Context, o map[string]string) error {
	dir, _, _, err := open(o)
	if err != nil {
		return err
	}
	_, err = os.Stat(dir)
	return err
}
