package cmd

import (
	"encoding/json"
	"fmt"
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
	var format string
	c := &cobra.Command{
		Use:     "version",
		Short:   "Print the plugin's version",
		Example: "  kubectl ocne-image version\n  kubectl ocne-image version --output-format json",
		Args:    cli.Args(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			v := VersionInfo{Version: buildinfo.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			switch format {
			case "json":
				return json.NewEncoder(streams.Out).Encode(v)
			case "text":
				_, err := fmt.Fprintf(streams.Out, "kubectl-ocne_image %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
				return err
			}
			return cli.Usagef("invalid --output-format %q: use text or json", format)
		},
	}
	c.Flags().StringVar(&format, "output-format", "text", "text or json")
	c.RegisterFlagCompletionFunc("output-format", cli.FixedCompletion("text", "json"))
	return c
}
