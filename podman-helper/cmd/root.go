// Package cmd wires the podman-ocne commands: flags, defaults and output.
// The work lives in shared/podman.
package cmd

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/buildinfo"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/podman"
)

// ConnectionFlags are the flags every command that talks to Podman shares.
type ConnectionFlags struct {
	URL     string
	Timeout time.Duration

	fake client // tests set it; status, logs and stop then use it
}

// client is what status, logs and stop use of the Podman service
// (*podman.Client).
type client interface {
	Own(name string) (*podman.Container, error)
	SiteOf(ctr *podman.Container) (*podman.Site, error)
	Service() (*podman.Service, error)
	Logs(name string, follow bool, tail string, out, errOut io.Writer) error
	Stop(name string) error
	Close()
}

// Validate checks --url (or $CONTAINER_HOST) before anything is attempted.
func (f *ConnectionFlags) Validate() error {
	if err := podman.CheckURL(podman.DefaultSocketURL(f.URL)); err != nil {
		return cli.Usage(err)
	}
	return nil
}

// client connects to the service, unless a test set a fake. The commands'
// Run calls it: connecting asks the service, which only flags found good
// should cost.
func (f *ConnectionFlags) client(ctx context.Context) (client, error) {
	if f.fake != nil {
		return f.fake, nil
	}
	c, err := f.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Connect resolves the socket and pings the service.
func (f *ConnectionFlags) Connect(ctx context.Context) (*podman.Client, error) {
	uri := podman.DefaultSocketURL(f.URL)
	if err := podman.CheckURL(uri); err != nil {
		return nil, cli.Usage(err)
	}
	return podman.Connect(ctx, uri, f.Timeout)
}

// NewCmdPodmanOcne returns the root command.
func NewCmdPodmanOcne(streams genericiooptions.IOStreams) *cobra.Command {
	conn := &ConnectionFlags{}
	root := &cobra.Command{
		Use:   "podman-ocne",
		Short: "Load and serve OCK OSTree archive images with Podman",
		Long: `podman-ocne loads the archive server image that 'kubectl ocne-image create'
writes into Podman over its REST socket, and runs it as the HTTP server
nodes install from, with the Kickstart and Ignition files beside it.

It talks to the Podman service at --url, else $CONTAINER_HOST, else the
rootless socket $XDG_RUNTIME_DIR/podman/podman.sock, else the rootful
/run/podman/podman.sock.`,
		Version: buildinfo.Version,
	}
	cli.Setup(root)
	root.Flags().Bool("version", false, "print the version and exit")
	pf := root.PersistentFlags()
	pf.StringVar(&conn.URL, "url", "", "Podman service URL, e.g. unix:///run/podman/podman.sock (default: $CONTAINER_HOST, then the rootless, then the rootful socket)")
	pf.DurationVar(&conn.Timeout, "connect-timeout", podman.DefaultConnectTimeout, "give up on a Podman service that does not answer within this time")
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.AddCommand(
		NewCmdLoad(streams, conn),
		NewCmdServe(streams, conn),
		NewCmdStatus(streams, conn),
		NewCmdLogs(streams, conn),
		NewCmdStop(streams, conn),
	)
	return root
}

// Execute runs the command and returns the process exit code: the same
// codes and one-line errors as kubectl ocne-image (shared/cli).
func Execute(ctx context.Context, c *cobra.Command, streams genericiooptions.IOStreams) int {
	return cli.Execute(ctx, c, streams.ErrOut, flagHint)
}

// checkName checks a --name: a container name.
func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, "/ \t\n") {
		return cli.Usagef("invalid --name %q", name)
	}
	return nil
}

// noArgs refuses positional arguments as a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cli.Usagef("unexpected argument %q; see '%s --help'", args[0], c.CommandPath())
	}
	return nil
}

// nameCompletion offers the names of the containers podman-ocne started,
// asking the service briefly: a slow one must not stall the shell.
func nameCompletion(conn *ConnectionFlags) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		uri := podman.DefaultSocketURL(conn.URL)
		client, err := podman.Connect(c.Context(), uri, time.Second)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer client.Close()
		names, _ := client.Names()
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
