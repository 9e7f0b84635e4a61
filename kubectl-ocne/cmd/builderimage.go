package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/builderimage"
	"github.com/ocne-image/ocne-image/shared/buildinfo"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
)

// hostCABundles are where Linux distributions keep their CA bundle.
var hostCABundles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}

// BuilderImageOptions are the inputs of `builder-image`.
type BuilderImageOptions struct {
	OutputFile  string
	Destination string
	Registry    string
	CAFile      string
	TLSVerify   bool
	Print       *cli.PrintFlags

	ref    *containerimage.Reference // where to push, from --registry or --destination
	self   string                    // this plugin's binary; tests set another
	binary string                    // what the image holds: the builder program, or self
	plugin bool                      // binary is the plugin, whose builder is a subcommand
	genericiooptions.IOStreams
}

// NewCmdBuilderImage returns `builder-image`, which packages the builder
// program shipped beside this binary (or else this very binary) as the
// builder image, so a cluster without internet access gets it from the
// user, not from a download.
func NewCmdBuilderImage(streams genericiooptions.IOStreams) *cobra.Command {
	c, _ := newCmdBuilderImage(streams)
	return c
}

// newCmdBuilderImage returns the command and the options it fills.
func newCmdBuilderImage(streams genericiooptions.IOStreams) (*cobra.Command, *BuilderImageOptions) {
	o := &BuilderImageOptions{IOStreams: streams, TLSVerify: true, Print: cli.NewPrintFlags()}
	mirrored := builderimage.In("registry.example.com", buildinfo.Version)
	c := &cobra.Command{
		Use:   "builder-image (--registry REGISTRY | --destination TRANSPORT:REFERENCE | --output-file FILE)",
		Short: "Write the builder image that create runs in the cluster",
		Long: `Package the builder as the image create runs in the cluster: FROM scratch,
the builder program and this host's CA bundle, non-root. The program is
` + builderimage.BinaryName + ` from this plugin's directory (krew installs it there),
or else this plugin binary itself, which runs the same builder.

create runs ` + builderimage.Default(buildinfo.Version) + `
unless told otherwise. An air-gapped cluster gets it from you: --registry
REGISTRY pushes it to the same path in REGISTRY, which create then takes
as --builder-image (or nodes whose containerd mirrors ` + builderimage.Registry + ` to REGISTRY
pull without it). --output-file writes an OCI archive tagged with the
default reference, for nodes that import it (ctr -n k8s.io images import).`,
		Example: `  # Into a registry of yours, then build there
  kubectl ocne-image builder-image --registry registry.example.com
  kubectl ocne-image create --type ostree --builder-image ` + mirrored + `

  # Anywhere else, by any transport
  kubectl ocne-image builder-image --destination docker://registry.example.com/ocne/builder:test
  kubectl ocne-image builder-image --output-file builder.tar`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	o.Print.AddFileFlag(c, &o.OutputFile, "write the image as an OCI archive file", "tar")
	o.Print.AddFlags(c)
	f.StringVar(&o.Registry, "registry", "", "push the image to "+builderimage.In("REGISTRY", buildinfo.Version)+", the default's path in REGISTRY")
	f.StringVarP(&o.Destination, "destination", "d", "", "push the image to TRANSPORT:REFERENCE")
	f.StringVar(&o.CAFile, "ca-file", "", "CA bundle to trust in the builder (default: this host's)")
	f.BoolVar(&o.TLSVerify, "tls-verify", true, "require HTTPS and verified certificates from the registry")
	return c, o
}

// Complete finds the program the image holds, and this host's CA bundle
// unless --ca-file names one.
func (o *BuilderImageOptions) Complete() error {
	if o.self == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this binary: %w", err)
		}
		o.self = self
	}
	o.binary, o.plugin = builderBinary(o.self)
	if o.CAFile == "" {
		for _, p := range hostCABundles {
			if _, err := os.Stat(p); err == nil {
				o.CAFile = p
				break
			}
		}
	}
	return nil
}

// Validate checks the flags before the image is built: a typo must not
// cost a build.
func (o *BuilderImageOptions) Validate() error {
	if err := o.Print.Validate(); err != nil {
		return err
	}
	set := 0
	for _, v := range []string{o.OutputFile, o.Destination, o.Registry} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return cli.Usagef("pass one of --registry, --destination and --output-file")
	}
	var err error
	switch {
	case o.Registry != "":
		o.ref, err = containerimage.ParseReference("docker://" + builderimage.In(o.Registry, buildinfo.Version))
		if err != nil || strings.Contains(o.Registry, "://") {
			return cli.Usagef("--registry %q: give a registry host, optionally with a port and path, no transport: e.g. registry.example.com:5000", o.Registry)
		}
	case o.Destination != "":
		if o.ref, err = containerimage.ParseReference(o.Destination); err != nil {
			return cli.Usage(fmt.Errorf("--destination: %w", err))
		}
	}
	return nil
}

// builderImageResult is what -o json prints: the file, or the image pushed.
type builderImageResult struct {
	File      string `json:"file,omitempty"`
	Reference string `json:"reference,omitempty"`
	Digest    string `json:"digest,omitempty"`
}

// Run builds the image and writes or pushes it.
func (o *BuilderImageOptions) Run(ctx context.Context) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("the builder image holds this binary, which is for %s: run builder-image from a linux build of the plugin", runtime.GOOS)
	}
	res, err := o.write(ctx)
	if err != nil {
		return err
	}
	return o.Print.Print(o.Out, res, func(w io.Writer) error {
		var err error
		if res.File != "" {
			_, err = fmt.Fprintln(w, res.File)
		} else {
			_, err = fmt.Fprintf(w, "%s@%s\n", res.Reference, res.Digest)
		}
		return err
	})
}

// builderBinary is the program the image of plugin self holds: the builder
// program beside self, else self (plugin true).
func builderBinary(self string) (path string, plugin bool) {
	beside := filepath.Join(filepath.Dir(self), builderimage.BinaryName)
	if fi, err := os.Stat(beside); err == nil && fi.Mode().IsRegular() {
		return beside, false
	}
	return self, true
}

// write writes the image to the output file, or else pushes it to ref.
func (o *BuilderImageOptions) write(ctx context.Context) (*builderImageResult, error) {
	tmp, err := os.MkdirTemp("", "ocne-builder-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	b, err := builderimage.Build(builderimage.Options{Binary: o.binary, Plugin: o.plugin, CAFile: o.CAFile, Arch: runtime.GOARCH, Version: buildinfo.Version, TempDir: tmp})
	if err != nil {
		return nil, err
	}
	defer b.RemoveLayerFiles()
	if o.OutputFile != "" {
		if err := ociarchive.WriteArchive(o.OutputFile, b, []string{builderimage.Default(buildinfo.Version)}); err != nil {
			return nil, explain(err)
		}
		return &builderImageResult{File: o.OutputFile}, nil
	}
	d, err := containerimage.Write(ctx, o.ref, []ociarchive.Build{b}, containerimage.Options{TLSVerify: o.TLSVerify})
	if err != nil {
		return nil, explain(err)
	}
	return &builderImageResult{Reference: o.ref.String(), Digest: d.String()}, nil
}
