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
	Name  string
	Print *cli.PrintFlags

	conn *ConnectionFlags
	genericiooptions.IOStreams
}

// NewCmdStatus returns the `status` command.
func NewCmdStatus(streams genericiooptions.IOStreams, conn *ConnectionFlags) *cobra.Command {
	c, _ := newCmdStatus(streams, conn)
	return c
}

func newCmdStatus(streams genericiooptions.IOStreams, conn *ConnectionFlags) (*cobra.Command, *StatusOptions) {
	o := &StatusOptions{IOStreams: streams, conn: conn, Print: cli.NewPrintFlags()}
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the archive server container, its URLs and the Podman version",
		Example: `  podman-ocne status
  podman-ocne status --name ock-1-31 --output json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	c.Flags().StringVar(&o.Name, "name", DefaultName, "container name")
	c.RegisterFlagCompletionFunc("name", nameCompletion(conn))
	o.Print.AddFlags(c)
	return c, o
}

// Validate rejects bad flag values before Podman is asked.
func (o *StatusOptions) Validate() error {
	if err := o.conn.Validate(); err != nil {
		return err
	}
	if err := checkName(o.Name); err != nil {
		return err
	}
	return o.Print.Validate()
}

// Run prints the status.
func (o *StatusOptions) Run(ctx context.Context) error {
	client, err := o.conn.client(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	ctr, err := client.Own(o.Name)
	if err != nil {
		// flagHint now: what it says of a foreign container comes first.
		return fmt.Errorf("%w: start one with 'podman-ocne serve'", flagHint(err))
	}
	site, err := client.SiteOf(ctr)
	if err != nil {
		return err
	}
	svc, err := client.Service()
	if err != nil {
		return err
	}
	return printSite(o.Out, o.Print, site, &serverStatus{Container: ctr, Podman: svc})
}
