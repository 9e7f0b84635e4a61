// Package ock holds the facts about Oracle's OCK OSTree images that the
// commands share: where they live, which versions exist, how the archive
// files produced from them are named.
package ock

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"go.podman.io/image/v5/transports"
	// Registers every transport, so hasTransport knows them all.
	_ "go.podman.io/image/v5/transports/alltransports"

	"github.com/ocne-image/ocne-image/shared/containerimage"
)

// DefaultRegistry is where Oracle publishes OCK OSTree images.
const DefaultRegistry = "container-registry.oracle.com/olcne/ock-ostree"

// Versions are the Kubernetes minor versions OCK images exist for, oldest
// first.
var Versions = []string{"1.26", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"}

// DefaultVersion is the newest version this tool knows.
func DefaultVersion() string { return Versions[len(Versions)-1] }

// Arches are the architectures OCK images are built for.
var Arches = []string{"amd64", "arm64"}

var versionRE = regexp.MustCompile(`^1\.[0-9]+$`)

// ValidateVersion checks a Kubernetes minor version such as "1.31".
func ValidateVersion(v string) error {
	if !versionRE.MatchString(v) {
		return fmt.Errorf("invalid Kubernetes version %q: want a minor version such as %s", v, DefaultVersion())
	}
	return nil
}

// ocneVersionRE matches the ways OCNE's documentation writes a Kubernetes
// version: 1.31, v1.31, 1.31.2, v1.31.2.
var ocneVersionRE = regexp.MustCompile(`^v?(1\.[0-9]+)(\.[0-9]+)?$`)

// MinorVersion returns the minor version OCK images are tagged with for a
// version written as OCNE's documentation does (v1.31.2 is 1.31), and
// whether v is one at all.
func MinorVersion(v string) (string, bool) {
	m := ocneVersionRE.FindStringSubmatch(v)
	if m == nil {
		return v, false
	}
	return m[1], true
}

// ValidateArch checks an architecture name.
func ValidateArch(a string) error {
	for _, k := range Arches {
		if a == k {
			return nil
		}
	}
	return fmt.Errorf("invalid architecture %q: use %s", a, strings.Join(Arches, " or "))
}

// ArchiveFileName is the name `create` gives its output, as the OCNE
// documentation spells it: ock-1.31-amd64-ostree.tar.
func ArchiveFileName(version, arch string) string {
	return fmt.Sprintf("ock-%s-%s-ostree.tar", version, arch)
}

// ArchivePath is ArchiveFileName in ~/.ocne/images.
func ArchivePath(home, version, arch string) string {
	return filepath.Join(home, ".ocne", "images", ArchiveFileName(version, arch))
}

// SourceReference joins a registry (or any image reference without its
// tag) and a tag. A registry without a transport is a docker:// registry;
// one with a transport (ostree-unverified-registry:host/repo ...) is kept
// as it is. A file source (oci:DIR, oci-archive:FILE ...) needs no tag: it
// holds what it holds, and a tag, if given, only picks one of its images.
func SourceReference(registry, tag string) (string, error) {
	if containerimage.IsFileSource(registry) {
		return containerimage.SelectInFile(registry, tag)
	}
	if tag == "" {
		return "", fmt.Errorf("%s is a registry: it needs a tag", registry)
	}
	ref := registry + ":" + tag
	if hasTransport(registry) {
		return ref, nil
	}
	return "docker://" + strings.TrimPrefix(ref, "//"), nil
}

// hasTransport tells "oci:/dir" and "ftp://host" (a transport, known or
// not: the parser then names it) from "host:5000/repo" (a registry).
func hasTransport(s string) bool {
	name, rest, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	return strings.HasPrefix(name, "ostree-") || strings.HasPrefix(rest, "//") || transports.Get(name) != nil
}
