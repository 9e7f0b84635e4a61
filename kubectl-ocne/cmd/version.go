package cmd

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/buildinfo"
	"github.com/ocne-image/ocne-image/shared/cli"
)

// VersionInfo is what `version` prints.
type VersionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// VersionOptions are the inputs of `version`.
type VersionOptions struct {
	Print *cli.PrintFlags
	genericiooptions.IOStreams
}

// NewCmdVersion returns the `version` command.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	c, _ := newCmdVersion(streams)
	return c
}

func newCmdVersion(streams genericiooptions.IOStreams) (*cobra.Command, *VersionOptions) {
	o := &VersionOptions{IOStreams: streams, Print: cli.NewPrintFlags()}
	c := &cobra.Command{
		Use:     "version",
		Short:   "Print the plugin's version",
		Example: "  kubectl ocne-image version\n  kubectl ocne-image version -o json",
		Args:    cli.Args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.Print.AddFlags(c)
	o.Print.AddOutputFormatAlias(c)
	return c, o
}

// Validate checks the output format.
func (o *VersionOptions) Validate() error { return o.Print.Validate() }

// Run prints the version.
func (o *VersionOptions) Run() error {
	v := VersionInfo{Version: buildinfo.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	return o.Print.Print(o.Out, v, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "kubectl-ocne_image %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
		return err
	})
}
