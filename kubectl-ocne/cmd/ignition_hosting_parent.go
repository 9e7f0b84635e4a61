package cmd

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// newCmdIgnitionHosting is a stand-in `ignition` parent for the hosting
// subcommands until they join the `ignition` command of ignition.go
// (issue 5): there, add newCmdIgnitionPublish, newCmdIgnitionUnpublish
// and newCmdIgnitionList, and delete this file.
func newCmdIgnitionHosting(streams genericiooptions.IOStreams) *cobra.Command {
	c := &cobra.Command{
		Use:   "ignition",
		Short: "Publish Ignition configs for nodes",
		Args:  usageArgs(cobra.NoArgs),
	}
	c.AddCommand(newCmdIgnitionPublish(streams), newCmdIgnitionUnpublish(streams), newCmdIgnitionList(streams))
	return c
}
