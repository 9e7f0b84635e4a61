package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/podman"
)

// StopOptions are the inputs of `stop`.
type StopOptions struct {
	Name string

	conn *ConnectionFlags
	genericiooptions.IOStreams
}

// NewCmdStop returns the `stop` command.
func NewCmdStop(streams genericiooptions.IOStreams, conn *ConnectionFlags) *cobra.Command {
	c, _ := newCmdStop(streams, conn)
	return c
}

func newCmdStop(streams genericiooptions.IOStreams, conn *ConnectionFlags) (*cobra.Command, *StopOptions) {
	o := &StopOptions{IOStreams: streams, conn: conn}
	c := &cobra.Command{
		Use:   "stop",
		Short: "Stop and remove the archive server container",
		Long: `Stop the archive server container and remove it. The served directories
and the image stay. Containers podman-ocne did not start are left alone.`,
		Example: `  podman-ocne stop
  podman-ocne stop --name ock-1-31`,
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
	return c, o
}

// Validate rejects bad flag values before Podman is asked.
func (o *StopOptions) Validate() error {
	if err := o.conn.Validate(); err != nil {
		return err
	}
	return checkName(o.Name)
}

// Run stops the container.
func (o *StopOptions) Run(ctx context.Context) error {
	client, err := o.conn.client(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Stop(o.Name); err != nil {
		if errors.Is(err, podman.ErrNotFound) {
			return fmt.Errorf("%w: nothing to stop", err)
		}
		return err
	}
	fmt.Fprintf(o.Out, "%s stopped and removed\n", o.Name)
	return nil
}
