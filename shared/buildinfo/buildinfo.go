// Package buildinfo carries the version stamped into our binaries at link
// time (see the Makefile's LDFLAGS).
package buildinfo

import "strings"

// Version is set with -ldflags "-X .../buildinfo.Version=...".
var Version = "dev"

// IsRelease reports whether version is a release tag (v1.2.3, v1.2.3-rc.1)
// rather than what git describe gives a development build (v1.2.3-4-gabc1234,
// abc1234-dirty). No regexp: the archive server links this package too.
func IsRelease(version string) bool {
	core, pre, hasPre := strings.Cut(strings.TrimPrefix(version, "v"), "-")
	if !strings.HasPrefix(version, "v") || !numbers(core, 3) {
		return false
	}
	if !hasPre {
		return true
	}
	kind, n, _ := strings.Cut(pre, ".")
	return (kind == "alpha" || kind == "beta" || kind == "rc") && numbers(n, 1)
}

// numbers reports whether s is count dot-separated decimal numbers.
func numbers(s string, count int) bool {
	parts := strings.Split(s, ".")
	if len(parts) != count {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}
