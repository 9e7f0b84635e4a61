package cmd

import (
	"errors"

	"github.com/ocne-image/ocne-image/kubectl-ocne/cmd/buildercmd"
	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/shared/certupload"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/clusterserve"
	"github.com/ocne-image/ocne-image/shared/ignition"
	"github.com/ocne-image/ocne-image/shared/jointoken"
	"github.com/ocne-image/ocne-image/shared/kube"
	"github.com/ocne-image/ocne-image/shared/ock"
)

// flagHint says which flag fixes a library error, which the error cannot
// say itself: the libraries know no flags (shared/cli).
func flagHint(err error) error {
	var (
		namespace *kube.NamespaceError
		nodePort  *clusterserve.NodePortTakenError
		nodeAddr  *clusterserve.NodeAddressError
		pull      *clusterserve.ImagePullError
		certs     *certupload.ForbiddenError
		tagged    *ock.TaggedError
		newer     *ignition.NewerSpecError
		iface     *ignition.NoInterfaceError
		option    *ignitionhost.MissingOptionError
	)
	switch {
	case errors.As(err, &namespace):
		return cli.WithHint(err, "; create it or pass -n")
	case errors.As(err, &nodePort):
		return cli.WithHint(err, ": pick another --node-port or leave it out")
	case errors.As(err, &nodeAddr) && nodeAddr.Err == nil:
		return cli.WithHint(err, ": pass --address")
	case errors.As(err, &nodeAddr):
		return cli.WithHint(err, "; pass --address")
	case errors.As(err, &pull):
		return cli.WithHint(err, " (check --image and that the nodes can reach its registry)")
	case errors.As(err, &certs):
		return cli.WithHint(err, "; run the printed kubeadm command on a control-plane node instead of --upload-certs")
	case errors.As(err, &tagged):
		return cli.WithHint(err, " (--os-tag)")
	case errors.Is(err, jointoken.ErrLoopback):
		return cli.WithHint(err, "; pass --api-server HOST:PORT")
	case errors.Is(err, jointoken.ErrNoEndpoint):
		return cli.WithHint(err, "; pass --api-server HOST:PORT and a kubeconfig that holds the cluster CA")
	case errors.Is(err, jointoken.ErrTokenForbidden):
		return cli.WithHint(err, "; ask for that right, or pass --token-only-print and run the printed kubeadm command on a control-plane node")
	case errors.As(err, &newer):
		return cli.WithHint(err, "; write it for that version or pass a newer --ignition-version")
	case errors.As(err, &iface):
		return cli.WithHint(err, " or --net-interface")
	case errors.Is(err, ignitionhost.ErrPluginGone):
		return cli.WithHint(err, "; run with -v for its log")
	case errors.As(err, &option):
		return cli.WithHint(err, " (--publish-opt %s=...)", option.Key)
	}
	return buildercmd.Hint(err)
}
