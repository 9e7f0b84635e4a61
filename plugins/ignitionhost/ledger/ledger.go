// Package ledger keeps, on the publishing machine, the record of what a
// backend published, for backends whose server cannot list (a plain web
// server, a directory). The file holds URLs that act as secrets, so it is
// written 0600 in a 0700 directory, atomically.
package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
)

// Ledger is the record for one backend and target (base URL, directory).
type Ledger struct{ path string }

// Open returns the ledger of backend for target, under dir (default
// ~/.ocne/published).
func Open(dir, backend, target string) (*Ledger, error) {
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("find home directory for the published-configs ledger: %w", err)
		}
		dir = filepath.Join(home, ".ocne", "published")
	}
	sum := sha256.Sum256([]byte(target))
	return &Ledger{path: filepath.Join(dir, backend+"-"+hex.EncodeToString(sum[:8])+".json")}, nil
}

// Path is the ledger file.
func (l *Ledger) Path() string { return l.path }

// Entries returns the recorded entries, sorted by name.
func (l *Ledger) Entries() ([]ignitionhost.Entry, error) {
	b, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ledger %s: %w", l.path, err)
	}
	var entries []ignitionhost.Entry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("ledger %s is corrupt (%v): move it away; what it listed stays published", l.path, err)
	}
	return entries, nil
}

// Get returns the entry called name.
func (l *Ledger) Get(name string) (ignitionhost.Entry, bool, error) {
	entries, err := l.Entries()
	i := slices.IndexFunc(entries, func(e ignitionhost.Entry) bool { return e.Name == name })
	if err != nil || i < 0 {
		return ignitionhost.Entry{}, false, err
	}
	return entries[i], true, nil
}

// Put records e, replacing an entry of the same name.
func (l *Ledger) Put(e ignitionhost.Entry) error {
	return l.update(func(entries []ignitionhost.Entry) []ignitionhost.Entry {
		entries = slices.DeleteFunc(entries, func(x ignitionhost.Entry) bool { return x.Name == e.Name })
		return append(entries, e)
	})
}

// Delete removes the entry called name, if recorded.
func (l *Ledger) Delete(name string) error {
	return l.update(func(entries []ignitionhost.Entry) []ignitionhost.Entry {
		return slices.DeleteFunc(entries, func(x ignitionhost.Entry) bool { return x.Name == name })
	})
}

func (l *Ledger) update(change func([]ignitionhost.Entry) []ignitionhost.Entry) error {
	entries, err := l.Entries()
	if err != nil {
		return err
	}
	entries = change(entries)
	slices.SortFunc(entries, func(a, b ignitionhost.Entry) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(l.path, b)
}

// WriteFileAtomic writes data to path with mode 0600 (parents 0700)
// through a temp file renamed into place, so a reader never sees a partial
// file and an interrupted write leaves the old one.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
