package ock

import (
	"fmt"
	"strings"

	"go.podman.io/image/v5/docker/reference"
)

// DefaultUpdateTransport is how an OCK node pulls its updates when
// osRegistry names no transport.
const DefaultUpdateTransport = "ostree-unverified-registry"

// TaggedError is an osRegistry that names a tag or a digest (What): the
// node adds osTag to it itself.
type TaggedError struct{ OSRegistry, What string }

func (e *TaggedError) Error() string {
	return fmt.Sprintf("invalid osRegistry %q: it carries a %s; give the repository only and the tag as osTag", e.OSRegistry, e.What)
}

// UpdateSource splits an osRegistry value into the two fields of the
// node's /etc/ocne/update.yaml: the transport and the image repository.
//
// The node's ocne-update.sh (oracle-cne/ock) joins them itself, adding
// ":<tag>" for registry transports, so the repository must carry neither
// its transport nor a tag: a registry written with its transport still in
// it, or with a tag, leaves the node unable to update. The forms are the
// ones ocne accepts:
//
//	REPO, docker://REPO, ostree-unverified-registry:REPO
//	  -> ostree-unverified-registry, REPO
//	ostree-unverified-image:docker://REPO  -> ostree-unverified-image:docker://, REPO
//	ostree-unverified-image:registry:REPO  -> ostree-unverified-image:registry, REPO
//	ostree-unverified-image:oci:PATH       -> ostree-unverified-image:oci, PATH (a path on the node)
//	ostree-remote-image:REMOTE:docker://REPO -> ostree-remote-image:REMOTE:docker://, REPO
//
// ostree-image-signed: takes the same forms as ostree-unverified-image:.
func UpdateSource(osRegistry string) (transport, repo string, err error) {
	s := osRegistry
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("invalid osRegistry %q: %s", osRegistry, why)
	}
	switch {
	case s == "":
		return bad("it is empty; give the OCK image repository, e.g. " + DefaultRegistry)
	case strings.HasPrefix(s, "ostree-unverified-registry:"):
		transport, repo = DefaultUpdateTransport, strings.TrimPrefix(s, "ostree-unverified-registry:")
	case strings.HasPrefix(s, "docker://"):
		transport, repo = DefaultUpdateTransport, strings.TrimPrefix(s, "docker://")
	case strings.HasPrefix(s, "ostree-unverified-image:"), strings.HasPrefix(s, "ostree-image-signed:"):
		prefix, rest, _ := strings.Cut(s, ":")
		inner, path, ok := strings.Cut(rest, ":")
		switch {
		case !ok:
			return bad("want " + prefix + ":TRANSPORT:REFERENCE")
		case inner == "docker" && strings.HasPrefix(path, "//"):
			transport, repo = prefix+":docker://", strings.TrimPrefix(path, "//")
		case inner == "registry" || inner == "containers-storage":
			transport, repo = prefix+":"+inner, path
		case inner == "oci" || inner == "oci-archive" || inner == "docker-archive":
			// A path on the node: no tag is added to it there.
			if path == "" {
				return bad("the " + inner + " path is empty")
			}
			return prefix + ":" + inner, path, nil
		default:
			return bad("the node's updater reads the transports docker://, registry:, containers-storage:, oci:, oci-archive: and docker-archive: after " + prefix + ":")
		}
	case strings.HasPrefix(s, "ostree-remote-image:"):
		remote, rest, _ := strings.Cut(strings.TrimPrefix(s, "ostree-remote-image:"), ":")
		switch {
		case remote == "":
			return bad("want ostree-remote-image:REMOTE:docker://REPOSITORY")
		case strings.HasPrefix(rest, "docker://"):
			transport, repo = "ostree-remote-image:"+remote+":docker://", strings.TrimPrefix(rest, "docker://")
		case strings.HasPrefix(rest, "registry:"):
			transport, repo = "ostree-remote-image:"+remote+":registry", strings.TrimPrefix(rest, "registry:")
		default:
			return bad("want ostree-remote-image:REMOTE:docker://REPOSITORY")
		}
	case hasTransport(s):
		return bad("the node pulls its updates from a registry: use REPOSITORY or ostree-unverified-registry:REPOSITORY (ostree-unverified-image:oci:PATH for a path on the node)")
	default:
		transport, repo = DefaultUpdateTransport, s
	}
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return bad(fmt.Sprintf("%v; give a repository such as %s", err, DefaultRegistry))
	}
	if _, ok := named.(reference.Tagged); ok {
		return "", "", &TaggedError{OSRegistry: osRegistry, What: "tag"}
	}
	if _, ok := named.(reference.Digested); ok {
		return "", "", &TaggedError{OSRegistry: osRegistry, What: "digest"}
	}
	return transport, repo, nil
}
