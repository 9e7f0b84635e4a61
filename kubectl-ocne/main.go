// Command kubectl-ocne_image is the `kubectl ocne-image` plugin.
package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.podman.io/storage/pkg/reexec"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/ocne-image/ocne-image/kubectl-ocne/cmd"
)

func main() {
	// containers-storage re-executes this binary to apply layers in a chroot.
	if reexec.Init() {
		return
	}
	silenceKlog()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	code := cmd.Execute(ctx, cmd.NewCmdOcneImage(streams), streams)
	stop()
	os.Exit(code)
}

// silenceKlog stops client-go's internal logging (port-forward reports
// dropped streams there) from interleaving with our one-line errors; the
// errors that matter reach us as values.
func silenceKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")
	fs.Set("alsologtostderr", "false")
	fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}
