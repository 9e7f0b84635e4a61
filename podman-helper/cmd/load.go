package cmd

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/cli"
)

const loadExample = `  # Load the image 'kubectl ocne-image create --local' wrote
  podman-ocne load --file ~/.ocne/images/ock-1.33-amd64-ostree.tar

  # Into a rootful service from a normal user's shell
  podman-ocne --url unix:///run/podman/podman.sock load --file ock.tar`

// LoadOptions are the inputs of `load`.
type LoadOptions struct {
	File  string
	Print *cli.PrintFlags

	conn *ConnectionFlags
	genericiooptions.IOStreams
}

// NewCmdLoad returns the `load` command.
func NewCmdLoad(streams genericiooptions.IOStreams, conn *ConnectionFlags) *cobra.Command {
	c, _ := newCmdLoad(streams, conn)
	return c
}

func newCmdLoad(streams genericiooptions.IOStreams, conn *ConnectionFlags) (*cobra.Command, *LoadOptions) {
	o := &LoadOptions{IOStreams: streams, conn: conn, Print: cli.NewPrintFlags()}
	c := &cobra.Command{
		Use:   "load --file FILE",
		Short: "Load an archive server image into Podman",
		Long: `Stream the archive server image file that 'kubectl ocne-image create'
wrote to the Podman service, and print the names it is stored under.
A Podman 5.7 or later on a unix:// socket reads the file from its path
itself instead (streamed if it does not see the file there).`,
		Example: loadExample,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	c.Flags().StringVarP(&o.File, "file", "f", "", "image archive written by 'kubectl ocne-image create'")
	o.Print.AddFlags(c)
	c.MarkFlagFilename("file", "tar")
	return c, o
}

// Validate rejects bad flag values before any work starts.
func (o *LoadOptions) Validate() error {
	if err := o.conn.Validate(); err != nil {
		return err
	}
	if o.File == "" {
		return cli.Usagef("--file is required")
	}
	return o.Print.Validate()
}

// Run loads the image.
func (o *LoadOptions) Run(ctx context.Context) error {
	client, err := o.conn.Connect(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	bar := cli.NewProgressBar(o.ErrOut, "load")
	names, err := client.Load(o.File, bar)
	bar.Done()
	if err != nil {
		return err
	}
	return o.Print.Print(o.Out, map[string]any{"file": o.File, "names": names}, func(w io.Writer) error {
		for _, n := range names {
			fmt.Fprintln(w, n)
		}
		return nil
	})
}
