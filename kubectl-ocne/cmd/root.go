// Package cmd wires the `kubectl ocne-image` commands: flags, defaults and
// output. The work itself lives in the shared/ packages.
package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/buildinfo"
)

// Exit codes scripts can rely on.
const (
	ExitOK    = 0
	ExitError = 1 // the operation failed
	ExitUsage = 2 // bad flags or arguments; nothing was attempted
)

// DefaultNamespace is where in-cluster work goes without -n.
const DefaultNamespace = "ocne-system"

// usageError marks errors in what the user asked for, as opposed to
// failures while doing it.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// NewCmdOcneImage returns the root command.
func NewCmdOcneImage(streams genericiooptions.IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use: "kubectl-ocne_image",
		// kubectl runs us as `kubectl ocne-image`; say so in help and completion.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ocne-image"},
		Short:       "Build OCK OSTree archive images for bring-your-own Kubernetes nodes",
		Long: `kubectl ocne-image turns an Oracle Cloud Native Environment OCK OSTree
container image into an OSTree archive served over HTTP, which Anaconda's
Kickstart "ostreesetup" installs nodes from.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Version,
	}
	// Only --version: -v means verbose in our subcommands.
	root.Flags().Bool("version", false, "print the version and exit")
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w; see '%s --help'", err, c.CommandPath())}
	})
	root.AddCommand(NewCmdCreate(streams), NewCmdUpload(streams), NewCmdEncapsulate(streams), NewCmdVersion(streams),
		NewCmdBuilderImage(streams), NewCmdBuilder(streams), NewCmdServe(streams), NewCmdKickstart(streams),
		NewCmdPlugins(streams), NewCmdIgnition(streams))
	return root
}

// Execute runs the command, prints a failure as one line and returns the
// process exit code. Cancelling ctx (Ctrl-C) stops the work and cleans up.
func Execute(ctx context.Context, c *cobra.Command, streams genericiooptions.IOStreams) int {
	err := c.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
	var u usageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitError
}

// usageArgs marks a positional-argument check's failures as usage errors.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return usageError{fmt.Errorf("%w; see '%s --help'", err, c.CommandPath())}
		}
		return nil
	}
}
