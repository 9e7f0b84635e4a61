package cmd

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/config"
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
	list, _ := newCmdPluginsList(streams)
	c.AddCommand(list)
	return c
}

// PluginsListOptions are the inputs of `plugins list`.
type PluginsListOptions struct {
	Print      *cli.PrintFlags
	ConfigFile string

	cfg  config.Config
	dirs []string // searched for plugins; tests set their own
	genericiooptions.IOStreams
}

// newCmdPluginsList returns `plugins list` and the options it fills.
func newCmdPluginsList(streams genericiooptions.IOStreams) (*cobra.Command, *PluginsListOptions) {
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
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.Print.AddFlags(c)
	c.Flags().StringVarP(&o.ConfigFile, "config", "c", "", "cluster configuration file")
	c.MarkFlagFilename("config", "yaml", "yml")
	return c, o
}

// Complete reads the configuration files, which pin plugins' checksums.
func (o *PluginsListOptions) Complete() error {
	var err error
	if o.cfg, err = loadConfig("", o.ConfigFile, o.ErrOut, nil); err != nil {
		return err
	}
	if o.dirs == nil {
		o.dirs = pluginhost.SearchDirs()
	}
	return nil
}

// Validate checks the output format.
func (o *PluginsListOptions) Validate() error { return o.Print.Validate() }

// Run prints the backends.
func (o *PluginsListOptions) Run() error {
	infos := pluginhost.Discover(o.dirs, builtinBackends(), o.cfg.IgnitionPlugins)
	return o.Print.Print(o.Out, infos, func(out io.Writer) error {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tKIND\tCHECKSUM\tPATH")
		for _, i := range infos {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", i.Name, i.Kind, i.Checksum, i.Path)
		}
		return w.Flush()
	})
}
