package buildercmd

import (
	"errors"

	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/convert"
)

// Hint says which flag fixes a build's error. The pod applies it before
// its error becomes a status line (a string, by the time `create` reads
// it); the plugin's flagHint applies it to a local build's.
func Hint(err error) error {
	var (
		arch    *containerimage.ArchError
		binding *convert.RefBindingError
	)
	switch {
	case errors.As(err, &arch) && arch.Have != "":
		return cli.WithHint(err, " (pass --arch %s)", arch.Have)
	case errors.As(err, &arch):
		return cli.WithHint(err, "; pass --arch")
	case errors.As(err, &binding):
		return cli.WithHint(err, ": pass one of them as --ref")
	}
	return err
}
