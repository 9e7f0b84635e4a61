package cmd

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/shared/certupload"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/clusterserve"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/convert"
	"github.com/ocne-image/ocne-image/shared/ignition"
	"github.com/ocne-image/ocne-image/shared/jointoken"
	"github.com/ocne-image/ocne-image/shared/kube"
	"github.com/ocne-image/ocne-image/shared/ock"
	"github.com/ocne-image/ocne-image/shared/ostree"
)

// TestFlagHints: the libraries' typed errors come out as the one line
// that names the flag to pass.
func TestFlagHints(t *testing.T) {
	forbidden := errors.New("forbidden")
	tests := []struct {
		err  error
		want string
	}{
		{&kube.NamespaceError{Namespace: "ocne-system", Err: forbidden},
			"namespace ocne-system does not exist and could not be created: forbidden; create it or pass -n"},
		{&clusterserve.NodePortTakenError{Port: 30080}, "node port 30080 is already used by another Service: pick another --node-port or leave it out"},
		{&clusterserve.NodeAddressError{}, "no node has an InternalIP address: pass --address"},
		{&clusterserve.NodeAddressError{Err: forbidden}, "find a node address for the node port: forbidden; pass --address"},
		{&clusterserve.ImagePullError{Image: "reg/ock:1", Reason: "ErrImagePull", Message: "not found"},
			"image reg/ock:1 cannot be pulled: ErrImagePull: not found (check --image and that the nodes can reach its registry)"},
		{&certupload.ForbiddenError{Resource: "pods", Namespace: "kube-system"},
			"upload-certs: not allowed to create pods in kube-system; run the printed kubeadm command on a control-plane node instead of --upload-certs"},
		{cli.Usage(fmt.Errorf("--os-registry: %w", &ock.TaggedError{OSRegistry: "reg/ock:1.31", What: "tag"})),
			`--os-registry: invalid osRegistry "reg/ock:1.31": it carries a tag; give the repository only and the tag as osTag (--os-tag)`},
		{fmt.Errorf("%w: the API server is known only as 127.0.0.1:6443, %w", jointoken.ErrNoEndpoint, jointoken.ErrLoopback),
			"cannot determine the API server endpoint and CA for joining nodes: the API server is known only as 127.0.0.1:6443, a loopback address nodes cannot reach; pass --api-server HOST:PORT"},
		{fmt.Errorf("%w: no CA, and forbidden", jointoken.ErrNoEndpoint),
			"cannot determine the API server endpoint and CA for joining nodes: no CA, and forbidden; pass --api-server HOST:PORT and a kubeconfig that holds the cluster CA"},
		{jointoken.ErrTokenForbidden,
			"create the bootstrap token: not allowed to create secrets in kube-system; ask for that right, or pass --token-only-print and run the printed kubeadm command on a control-plane node"},
		{fmt.Errorf("worker 1: %w", &ignition.NewerSpecError{Extra: "extra.ign", Version: "3.4.0"}),
			"worker 1: extra.ign: its Ignition spec version is newer than 3.4.0; write it for that version or pass a newer --ignition-version"},
		{&ignition.NoInterfaceError{VirtualIP: "192.0.2.100"},
			"a control plane behind the virtual IP 192.0.2.100 needs the network interface keepalived holds it on: set providers.byo.networkInterface or --net-interface"},
		{fmt.Errorf("publish on backend x: plugin /p exited mid-call: %w", ignitionhost.ErrPluginGone),
			"publish on backend x: plugin /p exited mid-call: plugin exited; run with -v for its log"},
		{fmt.Errorf("publish on backend web: %w", &ignitionhost.MissingOptionError{Key: "base-url"}),
			"publish on backend web: option base-url is required: invalid options (--publish-opt base-url=...)"},
		{&containerimage.ArchError{Ref: "docker://r/ock:1.31", Want: "arm64", Have: "amd64"},
			"docker://r/ock:1.31 is an image for amd64: no image for this architecture: arm64 (pass --arch amd64)"},
		{fmt.Errorf("open: %w", &containerimage.ArchError{Ref: "docker://r/ock:1.31", Want: "s390x", List: []string{"amd64", "arm64"}}),
			"open: docker://r/ock:1.31: no image for this architecture: s390x (the list has amd64, arm64); pass --arch"},
		{&convert.RefBindingError{Commit: ostree.Checksum{0xab}, Bound: []string{"ock"}, Ref: "custom"},
			`commit ab00000000000000000000000000000000000000000000000000000000000000 is bound to ref(s) "ock" (ostree.ref-binding), and libostree refuses to pull it as "custom": pass one of them as --ref`},
		{forbidden, "forbidden"},
	}
	for _, tt := range tests {
		if got := flagHint(tt.err).Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

// TestExplain: the errors create and builder-image get from writing a
// file or reaching a registry say what to pass instead.
func TestExplain(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&os.PathError{Op: "write", Path: "/full/ock.tar", Err: syscall.ENOSPC},
			"write /full/ock.tar: no space left on device: free some space or choose another --output-file"},
		{&os.PathError{Op: "open", Path: "/ro/ock.tar", Err: syscall.EROFS},
			"open /ro/ock.tar: read-only file system: choose a writable --output-file"},
		{fmt.Errorf("pinging container registry r:5000: %w", &url.Error{Op: "Get", URL: "https://r:5000/v2/", Err: http.ErrSchemeMismatch}),
			`pinging container registry r:5000: Get "https://r:5000/v2/": http: server gave HTTP response to HTTPS client: pass --tls-verify=false for a plain-HTTP registry`},
		{errors.New("other"), "other"},
	}
	for _, tt := range tests {
		if got := explain(tt.err).Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}
