package ignition

import (
	"fmt"
	"os"
	"path/filepath"
)

// Extra is one piece of the user's own Ignition (JSON or Butane YAML),
// named for the errors about it.
type Extra struct {
	Name string
	Data []byte
}

// ReadExtra reads extraIgnition: a file, or a directory whose regular
// files are all merged, in name order, as ocne does. Subdirectories are
// not read; a file that is neither Ignition nor Butane fails Build with
// its name (ocne skips it silently, which loses the user's config).
func ReadExtra(path string) ([]Extra, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return []Extra{{Name: path, Data: b}}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []Extra
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(path, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Extra{Name: p, Data: b})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: the directory holds no files", path)
	}
	return out, nil
}
