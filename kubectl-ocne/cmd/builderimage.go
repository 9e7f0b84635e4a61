package cmd

import (
	"context"
	"fmt"
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
)

// hostCABundles are where Linux distributions keep their CA bundle.
var hostCABundles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}

// NewCmdBuilderImage returns `builder-image`, which packages the builder
// program shipped beside this binary (or else this very binary) as the
// builder image, so a cluster without internet access gets it from the
// user, not from a download.
func NewCmdBuilderImage(streams genericiooptions.IOStreams) *cobra.Command {
	var output, dest, registry, caFile string
	tlsVerify := true
	mirrored := builderimage.In("registry.example.com", buildinfo.Version)
	c := &cobra.Command{
		Use:   "builder-image (--registry REGISTRY | --destination TRANSPORT:REFERENCE | --output FILE)",
		Short: "Write the builder image that create runs in the cluster",
		Long: `Package the builder as the image create runs in the cluster: FROM scratch,
the builder program and this host's CA bundle, non-root. The program is
` + builderimage.BinaryName + ` from this plugin's directory (krew installs it there),
or else this plugin binary itself, which runs the same builder.

create runs ` + builderimage.Default(buildinfo.Version) + `
unless told otherwise. An air-gapped cluster gets it from you: --registry
REGISTRY pushes it to the same path in REGISTRY, which create then takes
as --builder-image (or nodes whose containerd mirrors ` + builderimage.Registry + ` to REGISTRY
pull without it). --output writes an OCI archive tagged with the default
reference, for nodes that import it (ctr -n k8s.io images import).`,
		Example: `  # Into a registry of yours, then build there
  kubectl ocne-image builder-image --registry registry.example.com
  kubectl ocne-image create --type ostree --builder-image ` + mirrored + `

  # Anywhere else, by any transport
  kubectl ocne-image builder-image --destination docker://registry.example.com/ocne/builder:test
  kubectl ocne-image builder-image --output builder.tar`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			set := 0
			for _, v := range []string{output, dest, registry} {
				if v != "" {
					set++
				}
			}
			if set != 1 {
				return cli.Usagef("pass one of --registry, --destination and --output")
			}
			// Checked before the image is built: a typo must not cost a build.
			var ref *containerimage.Reference
			var err error
			switch {
			case registry != "":
				ref, err = containerimage.ParseReference("docker://" + builderimage.In(registry, buildinfo.Version))
				if err != nil || strings.Contains(registry, "://") {
					return cli.Usagef("--registry %q: give a registry host, optionally with a port and path, no transport: e.g. registry.example.com:5000", registry)
				}
			case dest != "":
				if ref, err = containerimage.ParseReference(dest); err != nil {
					return cli.Usage(fmt.Errorf("--destination: %w", err))
				}
			}
			if runtime.GOOS != "linux" {
				return fmt.Errorf("the builder image holds this binary, which is for %s: run builder-image from a linux build of the plugin", runtime.GOOS)
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find this binary: %w", err)
			}
			return writeBuilderImage(c.Context(), self, output, ref, caFile, tlsVerify, streams)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write the image as an OCI archive file")
	c.Flags().StringVar(&registry, "registry", "", "push the image to "+builderimage.In("REGISTRY", buildinfo.Version)+", the default's path in REGISTRY")
	c.Flags().StringVarP(&dest, "destination", "d", "", "push the image to TRANSPORT:REFERENCE")
	c.Flags().StringVar(&caFile, "ca-file", "", "CA bundle to trust in the builder (default: this host's)")
	c.Flags().BoolVar(&tlsVerify, "tls-verify", true, "require HTTPS and verified certificates from the registry")
	return c
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

// writeBuilderImage writes the image of plugin self to output, or else
// pushes it to ref.
func writeBuilderImage(ctx context.Context, self, output string, ref *containerimage.Reference, caFile string, tlsVerify bool, streams genericiooptions.IOStreams) error {
	binary, plugin := builderBinary(self)
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
	b, err := builderimage.Build(builderimage.Options{Binary: binary, Plugin: plugin, CAFile: caFile, Arch: runtime.GOARCH, Version: buildinfo.Version, TempDir: tmp})
	if err != nil {
		return err
	}
	defer b.RemoveLayerFiles()
	if output != "" {
		if err := containerimage.WriteArchive(output, b, []string{builderimage.Default(buildinfo.Version)}); err != nil {
			return explain(err)
		}
		fmt.Fprintln(streams.Out, output)
		return nil
	}
	d, err := containerimage.Write(ctx, ref, []containerimage.Build{b}, containerimage.Options{TLSVerify: tlsVerify})
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(streams.Out, "%s@%s\n", ref, d)
	return nil
}
