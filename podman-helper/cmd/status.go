package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/cli"
)

// StatusOptions are the inputs of `status`.
type StatusOptions struct {
	Name   string
	Output string

	conn *ConnectionFlags
	genericiooptions.IOStreams
}

// NewCmdStatus returns the `status` command.
func NewCmdStatus(streams genericiooptions.IOStreams, conn *ConnectionFlags) *cobra.Command {
	o := &StatusOptions{IOStreams: streams, conn: conn}
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the archive server container, its URLs and the Podman version",
		Example: `  podman-ocne status
  podman-ocne status --name ock-1-31 --output json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := validateOutput(o.Output); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	c.Flags().StringVar(&o.Name, "name", DefaultName, "container name")
	c.RegisterFlagCompletionFunc("name", nameCompletion(conn))
	c.Flags().StringVarP(&o.Output, "output", "o", "text", "how to print the result: text or json")
	c.RegisterFlagCompletionFunc("output", cli.FixedCompletion("text", "json"))
	return c
}

// Run prints the status.
func (o *StatusOptions) Run(ctx context.Context) error {
	client, err := o.conn.Connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	ctr, err := client.Own(o.Name)
	if err != nil {
		return fmt.Errorf("%w: start one with 'podman-ocne serve'", err)
	}
	site, err := client.SiteOf(ctr)
	if err != nil {
		return err
	}
	svc, err := client.Service()
	if err != nil {
		return err
	}
	return printSite(o.Out, o.Output, site, &serverStatus{Container: ctr, Podman: svc})
}
