package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// LogsOptions are the inputs of `logs`.
type LogsOptions struct {
	Name   string
	Follow bool
	Tail   string

	conn *ConnectionFlags
	genericiooptions.IOStreams
}

// NewCmdLogs returns the `logs` command.
func NewCmdLogs(streams genericiooptions.IOStreams, conn *ConnectionFlags) *cobra.Command {
	o := &LogsOptions{IOStreams: streams, conn: conn}
	c := &cobra.Command{
		Use:   "logs",
		Short: "Print the archive server's access log",
		Long: `Print the archive server container's output: one line per request, which
shows nodes fetching the Kickstart, Ignition and OSTree objects.`,
		Example: `  podman-ocne logs --follow
  podman-ocne logs --tail 20`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.Run(c.Context())
		},
	}
	c.Flags().StringVar(&o.Name, "name", DefaultName, "container name")
	c.RegisterFlagCompletionFunc("name", nameCompletion(conn))
	c.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep printing new lines until interrupted")
	c.Flags().StringVar(&o.Tail, "tail", "", "print only this many last lines")
	return c
}

// Run copies the logs.
func (o *LogsOptions) Run(ctx context.Context) error {
	client, err := o.conn.Connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	return client.Logs(o.Name, o.Follow, o.Tail, o.Out, o.ErrOut)
}
