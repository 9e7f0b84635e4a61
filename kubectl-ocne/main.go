// Command kubectl-ocne_image is the `kubectl ocne-image` plugin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"go.podman.io/storage/pkg/reexec"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/kubectl-ocne/cmd"
)

func main() {
	// containers-storage re-executes this binary to apply layers in a chroot.
	if reexec.Init() {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	code := cmd.Execute(ctx, cmd.NewCmdOcneImage(streams), streams)
	stop()
	os.Exit(code)
}
