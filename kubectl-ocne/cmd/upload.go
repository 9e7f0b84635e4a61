package cmd

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ock"
	"github.com/ocne-image/ocne-image/shared/progress"
)

const uploadExample = `  # Push the archive server image to a registry
  kubectl ocne-image upload --type ostree --file ~/.ocne/images/ock-1.31-amd64-ostree.tar \
    --destination docker://myregistry.example.com/ock-ostree:latest --arch amd64

  # Into local Podman storage, or an OCI layout directory
  kubectl ocne-image upload --file ock.tar --destination containers-storage:localhost/ock-ostree:1.31
  kubectl ocne-image upload --file ock.tar --destination oci:/srv/images/ock:1.31

  # One image of an archive that holds several, picked by its name or tag
  kubectl ocne-image upload --file oci-archive:images.tar:1.31 --destination docker://myregistry.example.com/ock-ostree:1.31`

// UploadOptions are the inputs of `upload`.
type UploadOptions struct {
	Type        string
	File        string
	Destination string
	Arch        string
	TLSVerify   bool
	AuthFile    string
	Format      string

	genericiooptions.IOStreams
}

// NewCmdUpload returns the `upload` command.
func NewCmdUpload(streams genericiooptions.IOStreams) *cobra.Command {
	o := &UploadOptions{IOStreams: streams}
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
its tag or a digest; oci:DIR[:NAME] reads an OCI layout the same way.`,
		Example: uploadExample,
		Args:    cli.Args(cobra.NoArgs),
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
	f.BoolVar(&o.TLSVerify, "tls-verify", true, "require HTTPS and verified certificates from the registry")
	f.StringVar(&o.AuthFile, "authfile", "", "registry credentials file (default: the containers auth.json, then ~/.docker/config.json)")
	f.StringVar(&o.Format, "output-format", "text", "how to print the result: text or json")
	c.MarkFlagFilename("file", "tar")
	c.RegisterFlagCompletionFunc("type", fixedCompletion("ostree"))
	c.RegisterFlagCompletionFunc("arch", fixedCompletion(ock.Arches...))
	c.RegisterFlagCompletionFunc("output-format", fixedCompletion("text", "json"))
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
	if o.Format != "text" && o.Format != "json" {
		return cli.Usagef("invalid --output-format %q: use text or json", o.Format)
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
	arch := img.Labels()["ostree.arch"]
	if arch == "" {
		arch = img.Architecture()
	}
	img.Close()
	if o.Arch != "" && arch != o.Arch {
		return fmt.Errorf("%s holds an archive for %s, not %s: upload the %s file or drop --arch", o.File, arch, o.Arch, o.Arch)
	}
	dest, _ := containerimage.ParseReference(o.Destination)
	bar := progress.New(o.ErrOut, "upload")
	err = containerimage.Copy(ctx, src.ImageReference, dest.ImageReference, opts, bar)
	bar.Done()
	if err != nil {
		return explain(err)
	}
	if o.Format == "json" {
		return json.NewEncoder(o.Out).Encode(map[string]string{"source": src.String(), "destination": dest.String(), "arch": arch})
	}
	fmt.Fprintln(o.Out, dest)
	return nil
}
