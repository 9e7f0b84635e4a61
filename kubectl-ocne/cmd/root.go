// Package cmd wires the `kubectl ocne-image` commands: flags, defaults and
// output. The work itself lives in the shared/ packages.
package cmd

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/kubectl-ocne/cmd/buildercmd"
	"github.com/ocne-image/ocne-image/shared/buildinfo"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/cli/kubeflags"
	"github.com/ocne-image/ocne-image/shared/config"
)

// DefaultNamespace is where in-cluster work goes without -n.
const DefaultNamespace = "ocne-system"

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
		Version: buildinfo.Version,
	}
	cli.Setup(root)
	// Only --version: -v means verbose in our subcommands.
	root.Flags().Bool("version", false, "print the version and exit")
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.AddCommand(NewCmdCreate(streams), NewCmdUpload(streams), NewCmdEncapsulate(streams), NewCmdVersion(streams),
		NewCmdBuilderImage(streams), buildercmd.NewCommand(streams.ErrOut), NewCmdServe(streams), NewCmdKickstart(streams),
		NewCmdPlugins(streams), NewCmdIgnition(streams))
	return root
}

// Execute runs the command and returns the process exit code (shared/cli),
// printing a failure with the flag that fixes it, if one does.
func Execute(ctx context.Context, c *cobra.Command, streams genericiooptions.IOStreams) int {
	return cli.Execute(ctx, c, streams.ErrOut, flagHint)
}

// loadConfig reads ~/.ocne/defaults.yaml, ~/.ocne/ocne-image.yaml (under
// home; "": the user's home) and then the cluster configuration file, whose
// keys win, and prints the files' warnings on errOut. With kube (the
// command talks to a cluster), the files' kubeconfig becomes its default.
// A file that does not parse is a usage error.
func loadConfig(home, clusterFile string, errOut io.Writer, kubeFlags *genericclioptions.ConfigFlags) (config.Config, error) {
	files, err := config.DefaultFiles(home, clusterFile)
	if err != nil {
		return config.Config{}, err
	}
	cfg, warnings, err := config.Read(files)
	if err != nil {
		return cfg, cli.Usage(err)
	}
	for _, w := range warnings {
		fmt.Fprintf(errOut, "warning: %s\n", w)
	}
	if kubeFlags != nil {
		kubeflags.DefaultKubeconfig(kubeFlags, cfg.KubeConfig)
	}
	return cfg, nil
}
