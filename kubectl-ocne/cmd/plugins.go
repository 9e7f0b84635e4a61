package cmd

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/pluginhost"
)

const pluginsListExample = `  # Built-in backends and ocne-ignition-* plugins in ~/.ocne/plugins and on PATH
  kubectl ocne-image plugins list

  # As JSON, with each plugin's sha256 (to pin it in ~/.ocne/ocne-image.yaml)
  kubectl ocne-image plugins list -o json`

// NewCmdPlugins returns the `plugins` command group.
func NewCmdPlugins(streams genericiooptions.IOStreams) *cobra.Command {
	c := &cobra.Command{
		Use:   "plugins",
		Short: "Inspect Ignition hosting backends",
		Args:  cli.Args(cobra.NoArgs),
	}
	c.AddCommand(NewCmdPluginsList(streams))
	return c
}

// PluginsListOptions are the inputs of `plugins list`.
type PluginsListOptions struct {
	Print      *cli.PrintFlags
	ConfigFile string
	genericiooptions.IOStreams
}

// NewCmdPluginsList returns `plugins list`.
func NewCmdPluginsList(streams genericiooptions.IOStreams) *cobra.Command {
	o := &PluginsListOptions{IOStreams: streams, Print: cli.NewPrintFlags()}
	c := &cobra.Command{
		Use:   "list",
		Short: "List Ignition hosting backends and their checksum status",
		Long: `List the built-in Ignition hosting backends and the plugins found as
executables named ocne-ignition-<backend> in ~/.ocne/plugins and on PATH
(first found wins), with each plugin's sha256 and whether it matches
ignitionPlugins.<backend>.sha256 in ~/.ocne/ocne-image.yaml. A plugin whose
checksum does not match is never run.`,
		Example: pluginsListExample,
		Args:    cli.Args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			if err := o.Print.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.Print.AddFlags(c)
	c.Flags().StringVarP(&o.ConfigFile, "config", "c", "", "cluster configuration file")
	c.MarkFlagFilename("config", "yaml", "yml")
	return c
}

// Run prints the backends.
func (o *PluginsListOptions) Run() error {
	cfg, err := loadConfig("", o.ConfigFile, o.ErrOut, nil)
	if err != nil {
		return err
	}
	infos := pluginhost.Discover(pluginhost.SearchDirs(), builtinBackends(), cfg.IgnitionPlugins)
	return o.Print.Print(o.Out, infos, func(out io.Writer) error {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tKIND\tCHECKSUM\tPATH")
		for _, i := range infos {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", i.Name, i.Kind, i.Checksum, i.Path)
		}
		return w.Flush()
	})
}
