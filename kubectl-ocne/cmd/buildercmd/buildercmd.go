// Package buildercmd is the command the builder pod runs. It is its own
// package so that the builder binary (kubectl-ocne/builder) links it without
// the plugin's Kubernetes clients, and the plugin keeps it as its hidden
// `builder` command for a builder image made from the plugin itself.
package buildercmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocne-image/ocne-image/shared/builder"
	"github.com/ocne-image/ocne-image/shared/builder/wire"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/containerimage"
)

// Options are the inputs of the builder pod's command.
type Options struct {
	Source         string
	Arch           string
	Version        string
	Ref            string
	TLSVerify      bool
	StaticDelta    bool
	AuthFile       string
	RegistriesConf string
	Destination    string
	Listen         string
	WorkDir        string
	TerminationLog string
	CutAfter       int64

	dest *containerimage.Reference // of --destination
	// ErrOut gets the build's log and warnings; the status goes over HTTP.
	ErrOut io.Writer
}

// NewCommand returns the command the builder pod runs, as the plugin's
// hidden `builder` command; the builder binary renames it. It is hidden:
// users run `create`, which starts the pod.
func NewCommand(errOut io.Writer) *cobra.Command {
	o := &Options{ErrOut: errOut}
	c := &cobra.Command{
		Use:    "builder --source REF --arch ARCH --version V",
		Short:  "Build the archive server image inside a pod (run by create)",
		Hidden: true,
		Args:   cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			err := o.Validate()
			if err == nil {
				err = o.Run(c.Context())
			}
			if err != nil && o.TerminationLog != "" {
				// Kubernetes hands this to `create` as the pod's message.
				os.WriteFile(o.TerminationLog, []byte(err.Error()), 0o644)
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&o.Source, "source", "", "OCK OSTree image reference")
	f.StringVar(&o.Arch, "arch", "", "architecture")
	f.StringVar(&o.Version, "version", "", "Kubernetes minor version")
	f.StringVar(&o.Ref, "ref", "", "OSTree ref (default: the commit's ref binding, else ock)")
	f.BoolVar(&o.TLSVerify, "tls-verify", true, "require HTTPS and verified certificates")
	f.BoolVar(&o.StaticDelta, "static-delta", true, "include a static delta")
	f.StringVar(&o.AuthFile, "authfile", "", "registry credentials file")
	f.StringVar(&o.RegistriesConf, "registries-conf", "", "registries.conf(5) for the source pull")
	f.StringVar(&o.Destination, "destination", "", "push the result here instead of serving it")
	f.StringVar(&o.Listen, "listen", ":"+strconv.Itoa(wire.Port), "address to serve status and the result on")
	f.StringVar(&o.WorkDir, "work-dir", "/work", "scratch directory")
	f.StringVar(&o.TerminationLog, "termination-log", "/dev/termination-log", "where to write the failure message")
	f.Int64Var(&o.CutAfter, "fault-cut-after", 0, "drop the first archive transfer after this many bytes (tests)")
	f.MarkHidden("fault-cut-after")
	return c
}

// Validate checks the flags before the build: create passes them, so a
// mistake here is create's, and must not cost a pull.
func (o *Options) Validate() error {
	if o.Source == "" || o.Arch == "" || o.Version == "" {
		return cli.Usagef("--source, --arch and --version are required")
	}
	if o.Destination != "" {
		dest, err := containerimage.ParseReference(o.Destination)
		if err != nil {
			return cli.Usage(fmt.Errorf("--destination: %w", err))
		}
		o.dest = dest
	}
	return nil
}

// Run builds, then pushes the result or serves it until terminated.
func (o *Options) Run(ctx context.Context) error {
	srv := wire.NewServer()
	srv.CutAfter = o.CutAfter
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("builder: listen on %s: %w", o.Listen, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()

	defer builder.LimitMemory()()
	res, err := builder.Build(ctx, builder.Options{
		Source: o.Source, Arch: o.Arch, Version: o.Version, Ref: o.Ref, NoStaticDelta: !o.StaticDelta,
		Image: containerimage.Options{Arch: o.Arch, TLSVerify: o.TLSVerify, AuthFile: o.AuthFile,
			RegistriesConf: o.RegistriesConf},
		Output:   filepath.Join(o.WorkDir, "ock.tar"),
		Progress: srv,
		Warn:     o.ErrOut,
		Log:      o.ErrOut,
	})
	if err != nil && ctx.Err() != nil {
		// SIGTERM: whatever broke on the way is a consequence, not the cause.
		err = errors.New("the builder pod was stopped before the build finished (deleted or evicted)")
	}
	if err != nil {
		err = Hint(err)
		srv.Fail(err)
		return err
	}
	if dest := o.dest; dest != nil {
		src, err := containerimage.ArchiveReference(res.Output)
		if err != nil {
			return err
		}
		copyOpts := containerimage.Options{TLSVerify: o.TLSVerify, AuthFile: o.AuthFile, TempDir: o.WorkDir}
		if err := containerimage.Copy(ctx, src.ImageReference, dest.ImageReference, copyOpts, nil); err != nil {
			srv.Fail(err)
			return err
		}
		srv.Pushed(res)
		fmt.Fprintf(o.ErrOut, "pushed %s to %s\n", res.Commit, dest)
		return nil
	}
	if err := srv.Ready(res); err != nil {
		srv.Fail(err)
		return err
	}
	fmt.Fprintf(o.ErrOut, "ready: %s (%s)\n", res.Output, res.Commit)
	<-ctx.Done() // `create` deletes the pod once it has the archive
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}
