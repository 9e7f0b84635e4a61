package cmd

import (
	"errors"

	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/podman"
)

// flagHint says which flag (or command) fixes a library error, which the
// error cannot say itself: the libraries know no flags (shared/cli).
func flagHint(err error) error {
	var (
		notLoaded *podman.NotLoadedError
		nameTaken *podman.NameInUseError
		foreign   *podman.ForeignError
		port      *podman.PortInUseError
		down      *podman.UnreachableError
	)
	switch {
	case errors.As(err, &notLoaded):
		return cli.WithHint(err, ": load it first with 'podman-ocne load --file ock-VERSION-ARCH-ostree.tar'")
	case errors.As(err, &nameTaken):
		return cli.WithHint(err, ": pass --replace, run 'podman-ocne stop --name %s', or pick another --name", nameTaken.Name)
	case errors.As(err, &foreign):
		return cli.WithHint(err, "; remove it with 'podman rm -f %s' or pick another --name", foreign.Name)
	case errors.As(err, &port):
		return cli.WithHint(err, ": pick another with --port, or stop what listens there ('podman-ocne status', 'ss -ltnp sport = :%d')", port.Port)
	case errors.As(err, &down):
		return cli.WithHint(err, ", or pass --url")
	case errors.Is(err, podman.ErrNoDefaultRoute):
		return cli.WithHint(err, "; pass --advertise-address with the address nodes reach it at")
	}
	return err
}
