package cmd

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/cli"
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
	c, _ := newCmdLogs(streams, conn)
	return c
}

func newCmdLogs(streams genericiooptions.IOStreams, conn *ConnectionFlags) (*cobra.Command, *LogsOptions) {
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
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	c.Flags().StringVar(&o.Name, "name", DefaultName, "container name")
	c.RegisterFlagCompletionFunc("name", nameCompletion(conn))
	c.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep printing new lines until interrupted")
	c.Flags().StringVar(&o.Tail, "tail", "", "print only this many last lines")
	return c, o
}

// Validate rejects bad flag values before Podman is asked.
func (o *LogsOptions) Validate() error {
	if err := o.conn.Validate(); err != nil {
		return err
	}
	if err := checkName(o.Name); err != nil {
		return err
	}
	if n, err := strconv.Atoi(o.Tail); o.Tail != "" && o.Tail != "all" && (err != nil || n < 0) {
		return cli.Usagef("invalid --tail %q: a number of lines, or all", o.Tail)
	}
	return nil
}

// Run copies the logs.
func (o *LogsOptions) Run(ctx context.Context) error {
	client, err := o.conn.client(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	return client.Logs(o.Name, o.Follow, o.Tail, o.Out, o.ErrOut)
}
