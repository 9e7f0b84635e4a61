package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/net/http/httpproxy"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/builder"
	"github.com/ocne-image/ocne-image/shared/config"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/convert"
	"github.com/ocne-image/ocne-image/shared/ock"
	"github.com/ocne-image/ocne-image/shared/progress"
)

const createExample = `  # Build the archive server image for the newest Kubernetes version on this machine
  kubectl ocne-image create --type ostree --local

  # Kubernetes 1.31 for arm64 nodes, written to a file of your choice
  kubectl ocne-image create --local --version 1.31 --arch arm64 --output ock.tar

  # From a mirror over plain HTTP, or from an image on disk
  kubectl ocne-image create --local --os-registry 127.0.0.1:5000/olcne/ock-ostree --tls-verify=false
  kubectl ocne-image create --local --os-registry oci:/srv/ock-layout --os-tag 1.31

  # Then serve it
  podman load -i ~/.ocne/images/ock-1.33-amd64-ostree.tar
  podman run -d -p 8080:80 -v $PWD/ks:/usr/share/nginx/html/ks localhost/ock-ostree:latest`

// CreateOptions are the inputs of `create`.
type CreateOptions struct {
	Type        string
	Arch        string
	Version     string
	OSRegistry  string
	OSTag       string
	TLSVerify   bool
	Local       bool
	Output      string
	Format      string
	ConfigFile  string
	Ref         string
	Verbose     int
	defaultsDir string // tests point this at a fake home
	proxy       *httpproxy.Config

	genericiooptions.IOStreams
}

// NewCmdCreate returns the `create` command.
func NewCmdCreate(streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdCreate(&CreateOptions{IOStreams: streams})
}

func newCmdCreate(o *CreateOptions) *cobra.Command {
	c := &cobra.Command{
		Use:   "create --type ostree [--local] [flags]",
		Short: "Build the OCK OSTree archive server image",
		Long: `Pull an OCK OSTree container image, convert it into a verified OSTree
archive repository and write a container image that serves it over HTTP
(port 80, path /ostree; Kickstart files mounted at /ks). The image is
written as an OCI archive to ~/.ocne/images/ock-VERSION-ARCH-ostree.tar.

Defaults for --os-registry, --os-tag and --version come from
~/.ocne/defaults.yaml and the --config cluster file; flags win.`,
		Example: createExample,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(c); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Type, "type", "t", "ostree", "image type to create; ostree is the only one")
	f.StringVarP(&o.Arch, "arch", "a", runtime.GOARCH, "architecture of the nodes: amd64 or arm64")
	f.StringVar(&o.Version, "version", "", "Kubernetes minor version (default "+ock.DefaultVersion()+")")
	f.StringVar(&o.OSRegistry, "os-registry", "", "image repository of the OCK OSTree image, optionally with a transport (default "+ock.DefaultRegistry+")")
	f.StringVar(&o.OSTag, "os-tag", "", "tag of the OCK OSTree image (default: the Kubernetes version)")
	f.BoolVar(&o.TLSVerify, "tls-verify", true, "require HTTPS and verified certificates from the registry")
	f.BoolVar(&o.Local, "local", false, "convert on this machine instead of in the current kubeconfig context")
	f.StringVarP(&o.Output, "output", "o", "", "file to write (default ~/.ocne/images/ock-VERSION-ARCH-ostree.tar)")
	f.StringVar(&o.Format, "output-format", "text", "how to print the result: text or json")
	f.StringVarP(&o.ConfigFile, "config", "c", "", "cluster configuration file")
	f.StringVar(&o.Ref, "ref", convert.DefaultRef, "OSTree ref to point at the commit (Kickstart's ostreesetup --ref)")
	f.CountVarP(&o.Verbose, "verbose", "v", "print more detail (repeat for more)")
	c.RegisterFlagCompletionFunc("type", fixedCompletion("ostree"))
	c.RegisterFlagCompletionFunc("arch", fixedCompletion(ock.Arches...))
	c.RegisterFlagCompletionFunc("version", fixedCompletion(ock.Versions...))
	c.RegisterFlagCompletionFunc("output-format", fixedCompletion("text", "json"))
	c.MarkFlagFilename("output", "tar")
	c.MarkFlagFilename("config", "yaml", "yml")
	return c
}

func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// Complete fills what the flags left unset from the configuration files,
// then from the built-in defaults.
func (o *CreateOptions) Complete(c *cobra.Command) error {
	defaults := filepath.Join(o.defaultsDir, ".ocne", "defaults.yaml")
	if o.defaultsDir == "" {
		p, err := config.DefaultsPath()
		if err != nil {
			return err
		}
		defaults = p
	}
	cfg, err := config.Load(defaults, o.ConfigFile)
	if err != nil {
		return usageError{err}
	}
	pick := func(flag string, dst *string, fromConfig, builtin string) {
		switch {
		case c.Flags().Changed(flag):
		case fromConfig != "":
			*dst = fromConfig
		default:
			*dst = builtin
		}
	}
	pick("version", &o.Version, cfg.Version(), ock.DefaultVersion())
	pick("os-registry", &o.OSRegistry, cfg.OSRegistry, ock.DefaultRegistry)
	pick("os-tag", &o.OSTag, cfg.OSTag, o.Version)
	if p := cfg.Proxy; p != (config.Proxy{}) {
		o.proxy = &httpproxy.Config{HTTPProxy: p.HTTPProxy, HTTPSProxy: p.HTTPSProxy, NoProxy: p.NoProxy}
	}
	if o.Output == "" {
		home := o.defaultsDir
		if home == "" {
			if home, err = os.UserHomeDir(); err != nil {
				return fmt.Errorf("find home directory for the default output: %w; pass --output", err)
			}
		}
		o.Output = ock.ArchivePath(home, o.Version, o.Arch)
	}
	return nil
}

// Validate rejects bad flag values before any work starts.
func (o *CreateOptions) Validate() error {
	if o.Type != "ostree" {
		return usagef("unsupported --type %q: ostree is the only image type", o.Type)
	}
	if err := ock.ValidateArch(o.Arch); err != nil {
		return usageError{err}
	}
	if err := ock.ValidateVersion(o.Version); err != nil {
		return usageError{err}
	}
	if o.Format != "text" && o.Format != "json" {
		return usagef("invalid --output-format %q: use text or json", o.Format)
	}
	if o.OSRegistry == "" || o.OSTag == "" {
		return usagef("--os-registry and --os-tag must not be empty")
	}
	if !o.Local {
		return usagef("building in the cluster is not available in this version; pass --local to build on this machine")
	}
	return nil
}

// Run converts the image and writes the archive server image.
func (o *CreateOptions) Run(ctx context.Context) error {
	logw := io.Discard
	if o.Verbose > 0 {
		logw = o.ErrOut
	}
	src := ock.SourceReference(o.OSRegistry, o.OSTag)
	fmt.Fprintf(logw, "Converting %s (%s)\n", src, o.Arch)
	bar := progress.New(o.ErrOut, "pull+convert")
	res, err := builder.Build(ctx, builder.Options{
		Source: src, Arch: o.Arch, Version: o.Version, Ref: o.Ref, Output: o.Output,
		Image:    containerimage.Options{Arch: o.Arch, TLSVerify: o.TLSVerify, Proxy: o.proxy},
		Progress: bar,
		Warn:     o.ErrOut,
		Log:      logw,
	})
	bar.Done()
	if err != nil {
		return explain(err)
	}
	return o.print(res)
}

func (o *CreateOptions) print(r *builder.Result) error {
	if o.Format == "json" {
		e := json.NewEncoder(o.Out)
		e.SetIndent("", "  ")
		return e.Encode(r)
	}
	fmt.Fprintf(o.Out, "%s\n", r.Output)
	return nil
}

// explain adds what to do to the errors users can fix themselves.
func explain(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w: free some space or choose another --output", err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: choose a writable --output", err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted; nothing was written")
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%w: pass --tls-verify=false for a plain-HTTP registry", err)
	}
	return err
}
