// Command podman-ocne loads the OCK archive server image into Podman over
// its socket API and runs it as the HTTP server nodes install from.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/podman-helper/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	code := cmd.Execute(ctx, cmd.NewCmdPodmanOcne(streams), streams)
	stop()
	os.Exit(code)
}
