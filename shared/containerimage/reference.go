// Package containerimage opens container images from any containers-transport
// (docker://, oci:, oci-archive:, docker-archive:, containers-storage:, dir:)
// through go.podman.io/image/v5, streams their layers verified and
// decompressed, writes images to any transport and copies between them.
// The images it writes are made with shared/ociarchive, which links no
// containers/image.
package containerimage

import (
	"fmt"
	"strings"

	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

// Reference is a parsed image reference.
type Reference struct {
	types.ImageReference
	// Unverified is true for ostree-ext reference forms that explicitly
	// skip signature verification; SignatureRemote names the OSTree remote
	// whose keys an ostree-remote-image reference asked for.
	Unverified      bool
	SignatureRemote string
}

// ParseReference accepts a containers-transports(5) reference
// ("docker://quay.io/x:1", "oci:/dir:tag", ...) and the ostree-ext forms
// the current OCNE tooling accepts:
//
//	ostree-unverified-registry:REPO[:TAG]     -> docker://REPO[:TAG]
//	ostree-unverified-image:TRANSPORT:REF     -> TRANSPORT:REF
//	ostree-remote-image:REMOTE:TRANSPORT:REF  -> TRANSPORT:REF
//	ostree-remote-registry:REMOTE:REPO        -> docker://REPO
//	ostree-image-signed:TRANSPORT:REF         -> TRANSPORT:REF
func ParseReference(s string) (*Reference, error) {
	r := &Reference{}
	inner := s
	switch {
	case strings.HasPrefix(s, "ostree-unverified-registry:"):
		inner = "docker://" + strings.TrimPrefix(s, "ostree-unverified-registry:")
		r.Unverified = true
	case strings.HasPrefix(s, "ostree-unverified-image:"):
		inner = strings.TrimPrefix(s, "ostree-unverified-image:")
		r.Unverified = true
	case strings.HasPrefix(s, "ostree-image-signed:"):
		inner = strings.TrimPrefix(s, "ostree-image-signed:")
	case strings.HasPrefix(s, "ostree-remote-registry:"):
		remote, rest, ok := strings.Cut(strings.TrimPrefix(s, "ostree-remote-registry:"), ":")
		if !ok || remote == "" {
			return nil, fmt.Errorf("invalid image reference %q: want ostree-remote-registry:REMOTE:REPOSITORY", s)
		}
		inner, r.SignatureRemote = "docker://"+rest, remote
	case strings.HasPrefix(s, "ostree-remote-image:"):
		remote, rest, ok := strings.Cut(strings.TrimPrefix(s, "ostree-remote-image:"), ":")
		if !ok || remote == "" {
			return nil, fmt.Errorf("invalid image reference %q: want ostree-remote-image:REMOTE:TRANSPORT:REFERENCE", s)
		}
		inner, r.SignatureRemote = rest, remote
	}
	ref, err := alltransports.ParseImageName(inner)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w (use TRANSPORT:REFERENCE, e.g. docker://registry.example.com/ock-ostree:1.31 or oci:/path/to/layout:1.31)", s, err)
	}
	r.ImageReference = ref
	return r, nil
}

// String returns the reference in transport:reference form.
func (r *Reference) String() string {
	return r.Transport().Name() + ":" + r.StringWithinTransport()
}
