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

// NewCmdVersion returns the `version` command.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	printFlags := cli.NewPrintFlags()
	c := &cobra.Command{
		Use:     "version",
		Short:   "Print the plugin's version",
		Example: "  kubectl ocne-image version\n  kubectl ocne-image version -o json",
		Args:    cli.Args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			if err := printFlags.Validate(); err != nil {
				return err
			}
			v := VersionInfo{Version: buildinfo.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			return printFlags.Print(streams.Out, v, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "kubectl-ocne_image %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
				return err
			})
		},
	}
	printFlags.AddFlags(c)
	printFlags.AddOutputFormatAlias(c)
	return c
}
