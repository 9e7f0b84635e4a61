// Command ocne-image-builder is the program of the builder image that
// `kubectl ocne-image create` runs in the cluster: the plugin's hidden
// `builder` command (same flags, same status protocol) without the plugin's
// Kubernetes clients, so the image is half the size. It is part of the
// plugin's release: it ships beside the plugin (in the krew archive, in
// `make build`'s bin/), where `builder-image` finds it. No --version:
// --version is the Kubernetes version here, as in the plugin's command; the
// image's label says which build it is.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"go.podman.io/storage/pkg/reexec"

	"github.com/ocne-image/ocne-image/kubectl-ocne/cmd/buildercmd"
	"github.com/ocne-image/ocne-image/shared/builderimage"
	"github.com/ocne-image/ocne-image/shared/cli"
)

func main() {
	// containers-storage re-executes this binary to apply layers in a chroot.
	if reexec.Init() {
		return
	}
	// SIGTERM is how the pod is stopped: the command reports it as such.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	c := buildercmd.NewCommand(os.Stderr)
	c.Use = builderimage.BinaryName + " --source REF --arch ARCH --version V"
	c.Hidden = false
	cli.Setup(c)
	code := cli.Execute(ctx, c, os.Stderr, buildercmd.Hint)
	stop()
	os.Exit(code)
}
