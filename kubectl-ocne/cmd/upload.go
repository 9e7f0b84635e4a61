package cmd

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ock"
)

const uploadExample = `  # Push the archive server image to a registry
  kubectl ocne-image upload --type ostree --file ~/.ocne/images/ock-1.31-amd64-ostree.tar \
    --destination docker://myregistry.example.com/ock-ostree:latest --arch amd64

  # Into local Podman storage, or an OCI layout directory
  kubectl ocne-image upload --file ock.tar --destination containers-storage:localhost/ock-ostree:1.31
  kubectl ocne-image upload --file ock.tar --destination oci:/srv/images/ock:1.31

  # One image of an archive that holds several, picked by its name or tag
  kubectl ocne-image upload --file oci-archive:images.tar:1.31 --destination docker://myregistry.example.com/ock-ostree:1.31

  # ocne's flags for an ostree upload work too; its OCI ones (--bucket ...) do not
  kubectl ocne-image upload -t ostree -f ock.tar -d docker://myregistry.example.com/ock-ostree:1.31 -a amd64 --version 1.31`

// UploadOptions are the inputs of `upload`.
type UploadOptions struct {
	Type        string
	File        string
	Destination string
	Arch        string
	Version     string
	TLSVerify   bool
	AuthFile    string
	Print       *cli.PrintFlags
	Verbose     int

	genericiooptions.IOStreams
}

// NewCmdUpload returns the `upload` command.
func NewCmdUpload(streams genericiooptions.IOStreams) *cobra.Command {
	o := &UploadOptions{IOStreams: streams, Print: cli.NewPrintFlags()}
	c := &cobra.Command{
		Use:   "upload --type ostree --file FILE --destination TRANSPORT:REFERENCE",
		Short: "Copy an archive server image to a registry or any other transport",
		Long: `Copy the image that create wrote to any containers-transports(5)
destination: docker://, oci:, oci-archive:, docker-archive:, dir: or
containers-storage:. A transport is always required.

--file is an image archive (oci-archive or docker-archive, as create,
podman save or skopeo copy write them) holding one image, which may have
several names. For a file of several images name the one to copy:
oci-archive:FILE:NAME or docker-archive:FILE:NAME, where NAME is a name,
its tag or a digest; oci:DIR[:NAME] reads an OCI layout the same way.

The flags of ` + "`ocne image upload --type ostree`" + ` work the same; its flags for
OCI object storage (--bucket, --compartment, --image-name, --profile) and
--kubeconfig and --config have no meaning here and are refused with a hint.`,
		Example: uploadExample,
		Args:    versionArgs(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Type, "type", "t", "ostree", "image type; ostree is the only one")
	f.StringVarP(&o.File, "file", "f", "", "image archive written by create, or oci-archive:FILE:NAME to pick one of several images")
	f.StringVarP(&o.Destination, "destination", "d", "", "where to copy it, TRANSPORT:REFERENCE")
	f.StringVarP(&o.Arch, "arch", "a", "", "refuse unless the image is for this architecture (amd64 or arm64)")
	f.StringVar(&o.Version, "version", "", "refuse unless the image is for this Kubernetes minor version (1.31.2 or v1.31 is taken as 1.31)")
	cli.AddVerboseFlag(c, &o.Verbose, "print what is copied")
	f.BoolVar(&o.TLSVerify, "tls-verify", true, "require HTTPS and verified certificates from the registry")
	cli.AddAuthFileFlag(c, &o.AuthFile, "registry credentials file (default: the containers auth.json, then ~/.docker/config.json)")
	o.Print.AddFlags(c)
	o.Print.AddOutputFormatAlias(c)
	c.MarkFlagFilename("file", "tar")
	addOcneUploadHints(c)
	c.RegisterFlagCompletionFunc("type", cli.FixedCompletion("ostree"))
	c.RegisterFlagCompletionFunc("arch", cli.FixedCompletion(ock.Arches...))
	return c
}

// Validate rejects bad flag values before any work starts.
func (o *UploadOptions) Validate() error {
	if o.File == "" || o.Destination == "" {
		return cli.Usagef("--file and --destination are required")
	}
	if o.Type != "ostree" {
		return cli.Usagef("unsupported --type %q: ostree is the only image type", o.Type)
	}
	if o.Arch != "" {
		if err := ock.ValidateArch(o.Arch); err != nil {
			return cli.Usage(err)
		}
	}
	if o.Version != "" {
		o.Version = normalizeVersion(o.Version, func(format string, args ...any) { fmt.Fprintf(o.ErrOut, format, args...) })
		if err := ock.ValidateVersion(o.Version); err != nil {
			return cli.Usage(err)
		}
	}
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if _, err := containerimage.ParseReference(o.Destination); err != nil {
		return cli.Usage(fmt.Errorf("--destination: %w", err))
	}
	return nil
}

// uploadSource reads --file: an image archive, or a file source reference
// naming the image in it (oci-archive:FILE:NAME, oci:DIR ...).
func uploadSource(file string) (*containerimage.Reference, error) {
	if containerimage.IsFileSource(file) {
		return containerimage.ResolveSource(file)
	}
	return containerimage.ArchiveReference(file)
}

// Run copies the image.
func (o *UploadOptions) Run(ctx context.Context) error {
	src, err := uploadSource(o.File)
	if err != nil {
		return chooseWith(err, "--file oci-archive:FILE:NAME (or docker-archive:FILE:NAME)")
	}
	opts := containerimage.Options{TLSVerify: o.TLSVerify, AuthFile: o.AuthFile}
	img, err := containerimage.Open(ctx, src, containerimage.Options{})
	if err != nil {
		return err
	}
	arch, version := img.Labels()["ostree.arch"], img.Labels()["version"]
	if arch == "" {
		arch = img.Architecture()
	}
	img.Close()
	if o.Arch != "" && arch != o.Arch {
		return fmt.Errorf("%s holds an archive for %s, not %s: upload the %s file or drop --arch", o.File, arch, o.Arch, o.Arch)
	}
	if o.Version != "" && version != o.Version {
		return fmt.Errorf("%s holds an archive for Kubernetes %q, not %s: upload the %s file or drop --version", o.File, version, o.Version, o.Version)
	}
	if o.Verbose > 0 {
		fmt.Fprintf(o.ErrOut, "Copying %s (Kubernetes %s, %s) to %s\n", o.File, version, arch, o.Destination)
	}
	dest, _ := containerimage.ParseReference(o.Destination)
	bar := cli.NewProgressBar(o.ErrOut, "upload")
	err = containerimage.Copy(ctx, src.ImageReference, dest.ImageReference, opts, bar)
	bar.Done()
	if err != nil {
		return explain(err)
	}
	res := map[string]string{"source": src.String(), "destination": dest.String(), "arch": arch}
	return o.Print.Print(o.Out, res, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, dest)
		return err
	})
}

// addOcneUploadHints takes the flags of `ocne image upload` that mean
// nothing for an ostree image here, so they get a hint, not "unknown flag".
func addOcneUploadHints(c *cobra.Command) {
	oci := func(flag string) func(string) string {
		return func(string) string {
			return "--" + flag + " is for ocne's uploads to OCI object storage; this upload copies the ostree image: use --destination TRANSPORT:REFERENCE"
		}
	}
	for _, f := range []struct{ name, shorthand string }{{"bucket", "b"}, {"compartment", "c"}, {"image-name", "i"}, {"profile", "p"}} {
		cli.HintFlag(c, f.name, f.shorthand, oci(f.name))
	}
	cli.HintFlag(c, "kubeconfig", "k", func(string) string { return "upload talks to no cluster: drop --kubeconfig" })
	cli.HintFlag(c, "config", "", func(string) string { return "upload reads no cluster configuration: drop --config" })
}
