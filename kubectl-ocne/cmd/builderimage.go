package cmd

import (
	"context"
	"fmt"
	"os"
	"runtime"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/builder"
	"github.com/ocne-image/ocne-image/shared/buildinfo"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/containerimage"
)

// hostCABundles are where Linux distributions keep their CA bundle.
var hostCABundles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}

// NewCmdBuilderImage returns `builder-image`, which packages this very
// binary as the builder image, so a cluster without internet access gets
// it from the user, not from a download.
func NewCmdBuilderImage(streams genericiooptions.IOStreams) *cobra.Command {
	var output, dest, caFile string
	tlsVerify := true
	c := &cobra.Command{
		Use:   "builder-image (--output FILE | --destination TRANSPORT:REFERENCE)",
		Short: "Write the builder image that create runs in the cluster",
		Example: `  kubectl ocne-image builder-image --destination docker://registry.example.com/ocne/builder:latest
  kubectl ocne-image create --type ostree --builder-image registry.example.com/ocne/builder:latest`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if (output == "") == (dest == "") {
				return cli.Usagef("pass one of --output and --destination")
			}
			if runtime.GOOS != "linux" {
				return fmt.Errorf("the builder image holds this binary, which is for %s: run builder-image from a linux build of the plugin", runtime.GOOS)
			}
			return writeBuilderImage(c.Context(), output, dest, caFile, tlsVerify, streams)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write the image as an OCI archive file")
	c.Flags().StringVarP(&dest, "destination", "d", "", "push the image to TRANSPORT:REFERENCE")
	c.Flags().StringVar(&caFile, "ca-file", "", "CA bundle to trust in the builder (default: this host's)")
	c.Flags().BoolVar(&tlsVerify, "tls-verify", true, "require HTTPS and verified certificates from the registry")
	return c
}

func writeBuilderImage(ctx context.Context, output, dest, caFile string, tlsVerify bool, streams genericiooptions.IOStreams) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary: %w", err)
	}
	if caFile == "" {
		for _, p := range hostCABundles {
			if _, err := os.Stat(p); err == nil {
				caFile = p
				break
			}
		}
	}
	tmp, err := os.MkdirTemp("", "ocne-builder-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b, err := builder.Image(builder.ImageOptions{Binary: self, CAFile: caFile, Arch: runtime.GOARCH, Version: buildinfo.Version, TempDir: tmp})
	if err != nil {
		return err
	}
	defer b.RemoveLayerFiles()
	if output != "" {
		if err := containerimage.WriteArchive(output, b, []string{"localhost/ocne-image-builder:" + buildinfo.Version}); err != nil {
			return explain(err)
		}
		fmt.Fprintln(streams.Out, output)
		return nil
	}
	ref, err := containerimage.ParseReference(dest)
	if err != nil {
		return cli.Usage(err)
	}
	d, err := containerimage.Write(ctx, ref, []containerimage.Build{b}, containerimage.Options{TLSVerify: tlsVerify})
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(streams.Out, "%s@%s\n", ref, d)
	return nil
}
