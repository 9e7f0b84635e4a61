package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ock"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
)

const encapsulateExample = `  # Publish a custom OCK commit from an archive repository as a chunked image
  kubectl ocne-image encapsulate --repo ./repo --ref ock --layers 16 docker://registry.example.com/olcne/ock-ostree:1.31-custom

  # ... or write it to an OCI layout, then build the archive server image from it
  kubectl ocne-image encapsulate --repo ./repo --ref ock oci:/srv/ock:1.31
  kubectl ocne-image create --local --os-registry oci:/srv/ock --os-tag 1.31`

// EncapsulateOptions are the inputs of `encapsulate`.
type EncapsulateOptions struct {
	Repo        string
	Ref         string
	Commit      string
	Layers      int
	Compression string
	Arch        string
	Labels      []string
	TLSVerify   bool
	Print       *cli.PrintFlags
	Dest        string

	genericiooptions.IOStreams
}

// NewCmdEncapsulate returns the `encapsulate` command: the reverse of
// create's conversion, for users who build their own OCK commits.
func NewCmdEncapsulate(streams genericiooptions.IOStreams) *cobra.Command {
	o := &EncapsulateOptions{IOStreams: streams, Print: cli.NewPrintFlags()}
	c := &cobra.Command{
		Use:   "encapsulate --repo DIR (--ref REF | --commit CHECKSUM) DESTINATION",
		Short: "Package an OSTree commit as an OCK OSTree container image",
		Long: `Encapsulate a commit of an OSTree archive repository as an ostree-ext
("ostree native") container image, the format of Oracle's OCK OSTree images,
and write it to any containers-transports(5) destination.`,
		Example: encapsulateExample,
		Args:    cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			o.Dest = args[0]
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&o.Repo, "repo", "", "OSTree repository in archive mode")
	f.StringVar(&o.Ref, "ref", "ock", "ref of the commit to encapsulate")
	f.StringVar(&o.Commit, "commit", "", "checksum of the commit (instead of --ref)")
	f.IntVar(&o.Layers, "layers", 1, "number of layers to spread the content over (chunked image if > 1)")
	f.StringVar(&o.Compression, "compression", "gzip", "layer compression: gzip, zstd or none")
	f.StringVarP(&o.Arch, "arch", "a", runtime.GOARCH, "architecture to record in the image")
	f.StringArrayVar(&o.Labels, "label", nil, "extra image label KEY=VALUE (repeatable)")
	f.BoolVar(&o.TLSVerify, "tls-verify", true, "require HTTPS and verified certificates from the registry")
	o.Print.AddFlags(c)
	o.Print.AddOutputFormatAlias(c)
	c.MarkFlagDirname("repo")
	c.RegisterFlagCompletionFunc("compression", cli.FixedCompletion("gzip", "zstd", "none"))
	c.RegisterFlagCompletionFunc("arch", cli.FixedCompletion(ock.Arches...))
	return c
}

// Validate rejects bad flag values before any work starts.
func (o *EncapsulateOptions) Validate() error {
	if o.Repo == "" {
		return cli.Usagef("--repo is required")
	}
	if o.Layers < 1 || o.Layers > 128 {
		return cli.Usagef("invalid --layers %d: use 1 to 128", o.Layers)
	}
	if _, err := ociarchive.ParseCompression(o.Compression); err != nil {
		return cli.Usage(err)
	}
	if err := ock.ValidateArch(o.Arch); err != nil {
		return cli.Usage(err)
	}
	for _, l := range o.Labels {
		if k, _, ok := strings.Cut(l, "="); !ok || k == "" {
			return cli.Usagef("invalid --label %q: want KEY=VALUE", l)
		}
	}
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if _, err := containerimage.ParseReference(o.Dest); err != nil {
		return cli.Usage(err)
	}
	return nil
}

// Run writes the image.
func (o *EncapsulateOptions) Run(ctx context.Context) error {
	repo, err := archiverepo.Open(o.Repo)
	if err != nil {
		return err
	}
	var commit ostree.Checksum
	if o.Commit != "" {
		commit, err = ostree.ParseChecksum(o.Commit)
	} else {
		commit, err = repo.ResolveRef(o.Ref)
	}
	if err != nil {
		return err
	}
	labels := map[string]string{}
	for _, l := range o.Labels {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}
	tmp, err := os.MkdirTemp("", "ocne-image-encapsulate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	comp, _ := ociarchive.ParseCompression(o.Compression)
	b, err := ostreeext.Export(ctx, repo, commit, ostreeext.ExportOptions{
		Layers: o.Layers, Compression: comp, Arch: o.Arch, Labels: labels, TempDir: tmp,
	})
	if err != nil {
		return explain(err)
	}
	dest, _ := containerimage.ParseReference(o.Dest)
	d, err := containerimage.Write(ctx, dest, []ociarchive.Build{b}, containerimage.Options{TLSVerify: o.TLSVerify})
	if err != nil {
		return explain(err)
	}
	res := map[string]any{"destination": dest.String(), "digest": d, "commit": commit.String(), "layers": len(b.Layers)}
	return o.Print.Print(o.Out, res, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s@%s\n", dest, d)
		return err
	})
}
