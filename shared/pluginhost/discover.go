// Package pluginhost is the host side of Ignition hosting (the host of
// plugins, in go-plugin's terms; plugins are written with the SDK,
// plugins/ignitionhost): it finds
// backends (the built-ins its caller passes and ocne-ignition-<name>
// plugins), checks plugin checksums, launches plugins with
// hashicorp/go-plugin, and publishes through any of them behind the one
// ignitionhost.IgnitionHost interface. It holds the `dir` built-in
// (DirHost); the `cluster` one is clusterserve.IgnitionHost.
package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ocne-image/ocne-image/shared/config"
)

// Prefix is how a plugin executable is named: ocne-ignition-<backend>.
const Prefix = "ocne-ignition-"

// Checksum states `plugins list` reports.
const (
	ChecksumBuiltin       = "built-in"
	ChecksumVerified      = "verified"
	ChecksumMismatch      = "mismatch"
	ChecksumNotConfigured = "not configured"
	ChecksumMissing       = "plugin missing"
)

// Info describes one backend.
type Info struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // built-in or plugin
	Path     string `json:"path,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Checksum string `json:"checksum"`
	// Shadowed lists executables of the same name found later in the
	// search path, which are never run.
	Shadowed []string `json:"shadowed,omitempty"`
}

// SearchDirs returns where plugins are looked for, first match wins:
// ~/.ocne/plugins, then PATH.
func SearchDirs() []string {
	var dirs []string
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".ocne", "plugins"))
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// find returns the executable for backend name in dirs, and the ones it
// shadows.
func find(dirs []string, name string) (path string, shadowed []string) {
	for _, d := range dirs {
		p := filepath.Join(d, Prefix+name)
		if !isExecutable(p) || slices.Contains(shadowed, p) || p == path {
			continue
		}
		if path == "" {
			path = p
		} else {
			shadowed = append(shadowed, p)
		}
	}
	return path, shadowed
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Discover lists the built-in backends, every plugin found in dirs, and
// plugins configured but not found, sorted by name.
func Discover(dirs []string, builtins Builtins, plugins map[string]config.IgnitionPlugin) []Info {
	names := map[string]bool{}
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, Prefix+"*"))
		for _, m := range matches {
			if isExecutable(m) {
				names[strings.TrimPrefix(filepath.Base(m), Prefix)] = true
			}
		}
	}
	for n := range plugins {
		names[n] = true
	}
	var infos []Info
	for n := range builtins {
		infos = append(infos, Info{Name: n, Kind: "built-in", Checksum: ChecksumBuiltin})
		delete(names, n)
	}
	for n := range names {
		info := Info{Name: n, Kind: "plugin"}
		info.Path, info.Shadowed = find(dirs, n)
		if info.Path == "" {
			info.Checksum = ChecksumMissing
			infos = append(infos, info)
			continue
		}
		sum, err := fileSHA256(info.Path)
		if err != nil {
			info.Checksum = err.Error()
		} else {
			info.SHA256 = sum
			info.Checksum = checksumState(sum, plugins[n].SHA256)
		}
		infos = append(infos, info)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return infos
}

func checksumState(actual, want string) string {
	switch {
	case want == "":
		return ChecksumNotConfigured
	case strings.EqualFold(actual, want):
		return ChecksumVerified
	}
	return ChecksumMismatch
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read plugin %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read plugin %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
