// Package layout says where things live in the archive server image: the
// paths of the nginx image it replaces. It is a leaf, so that code which
// only needs to name those paths (the cluster deployment, the Podman
// container) does not link the image builder and containers/image.
package layout

const (
	WebRoot    = "/usr/share/nginx/html"
	RepoPath   = WebRoot + "/ostree"
	KsPath     = WebRoot + "/ks"
	ServerPath = "/usr/bin/ocne-archive-server"
	Port       = "80/tcp"
	Repository = "localhost/ock-ostree" // what `podman load` names it
)
