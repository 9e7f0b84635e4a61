package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/net/http/httpproxy"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/builder"
	"github.com/ocne-image/ocne-image/shared/builderimage"
	"github.com/ocne-image/ocne-image/shared/buildinfo"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/cli/kubeflags"
	"github.com/ocne-image/ocne-image/shared/clusterbuild"
	"github.com/ocne-image/ocne-image/shared/config"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/convert"
	"github.com/ocne-image/ocne-image/shared/ignition"
	"github.com/ocne-image/ocne-image/shared/ock"
)

const createExample = `  # Build in the cluster of the current kubeconfig context, with the builder
  # image of this plugin's release (see builder-image for air-gapped clusters)
  kubectl ocne-image create --type ostree

  # An air-gapped cluster: the builder image from a registry of yours
  kubectl ocne-image builder-image --registry registry.example.com
  kubectl ocne-image create --type ostree --builder-image %s

  # Build the archive server image for the newest Kubernetes version on this machine
  kubectl ocne-image create --type ostree --local

  # Kubernetes 1.31 for arm64 nodes, written to a file of your choice
  kubectl ocne-image create --local --version 1.31 --arch arm64 --output-file ock.tar

  # From a mirror over plain HTTP
  kubectl ocne-image create --local --os-registry 127.0.0.1:5000/olcne/ock-ostree --tls-verify=false

  # From an image on disk: a file of one image needs no --os-tag; one of several is picked by it
  kubectl ocne-image create --local --os-registry oci-archive:/srv/ock-1.31.tar --version 1.31
  kubectl ocne-image create --local --os-registry oci:/srv/ock-layout --os-tag 1.31

  # An image customised with podman build, served as ref ock/custom
  kubectl ocne-image create --local --os-registry oci-archive:/srv/ock-custom.tar --ref ock/custom

  # Then serve it
  podman load -i ~/.ocne/images/ock-1.33-amd64-ostree.tar
  podman run -d -p 8080:80 -v $PWD/ks:/usr/share/nginx/html/ks localhost/ock-ostree:latest`

// CreateOptions are the inputs of `create`.
type CreateOptions struct {
	Type         string
	Arch         string
	Version      string
	OSRegistry   string
	OSTag        string
	TLSVerify    bool
	Local        bool
	BuilderImage string
	AuthFile     string
	// RegistriesConf is a registries.conf(5) for the source pull; in the
	// cluster it reaches the pod as a ConfigMap.
	RegistriesConf   string
	Destination      string
	StartTimeout     time.Duration
	BuilderArgs      []string
	kube             *genericclioptions.ConfigFlags
	clients          *kubeflags.Clients // of the cluster built in; tests set a fake
	auth, registries []byte             // the --authfile and --registries-conf files
	// OutputFile is the archive to write; Print says how to report it.
	OutputFile  string
	Print       *cli.PrintFlags
	ConfigFile  string
	Ref         string
	StaticDelta bool
	Verbose     int
	defaultsDir string // tests point this at a fake home
	source      string // the image reference --os-registry and --os-tag make
	proxy       *httpproxy.Config

	genericiooptions.IOStreams
}

// NewCmdCreate returns the `create` command.
func NewCmdCreate(streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdCreate(&CreateOptions{IOStreams: streams})
}

// newCmdCreate returns `create` filling o, which tests inspect.

func newCmdCreate(o *CreateOptions) *cobra.Command {
	o.Print = cli.NewPrintFlags()
	o.Print.JSONIndent = "  "
	c := &cobra.Command{
		Use:   "create --type ostree [--local] [flags]",
		Short: "Build the OCK OSTree archive server image",
		Long: `Pull an OCK OSTree container image, convert it into a verified OSTree
archive repository and write a container image that serves it over HTTP
(port 80, path /ostree; Kickstart files mounted at /ks). The image is
written as an OCI archive to ~/.ocne/images/ock-VERSION-ARCH-ostree.tar.

Without --local the work runs in a pod in the current kubeconfig context
(namespace ocne-system), from the builder image of this plugin's version,
` + builderimage.Default(buildinfo.Version) + `; an air-gapped cluster
gets it with builder-image --registry. It tolerates control-plane taints,
so a cluster of only control-plane nodes runs it too. A proxy: section in
the config files reaches the pod as HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
A source that is a file on this machine is always built here.

--os-registry is a registry repository (a tag picks the image, by default
the Kubernetes version) or an image on this machine: oci:DIR,
oci-archive:FILE, docker-archive:FILE or dir:DIR, also as
ostree-unverified-image:oci-archive:FILE. Such a source holding one image
(or one manifest list) is used as it is; of several, --os-tag picks the one
with that name, tag or digest.

A derived image (an OCK image customised with podman build) is served as
a new commit of the merged tree; its files outside /usr and /etc are left
out, with a warning. A commit bound to refs (ostree.ref-binding) is served
under its one bound ref unless --ref says otherwise; a --ref it is not
bound to is refused, as libostree would refuse the pull on the node.

Defaults for --os-registry, --os-tag and --version come from
~/.ocne/defaults.yaml (ocne's), ~/.ocne/ocne-image.yaml (ours: also
builderImage, registriesConf) and the --config cluster file; flags win.
The cluster is the current context of --kubeconfig, else $KUBECONFIG,
else the files' kubeconfig key, else ~/.kube/config.

-v is --verbose, as in kubectl; ocne's -v 1.31 is --version 1.31 here.`,
		Example: fmt.Sprintf(createExample, builderimage.In("registry.example.com", buildinfo.Version)),
		Args:    versionArgs(cobra.NoArgs),
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
	f.StringVar(&o.Version, "version", "", "Kubernetes minor version; 1.31.2 or v1.31 is taken as 1.31 (default "+ock.DefaultVersion()+")")
	f.StringVar(&o.OSRegistry, "os-registry", "", "image repository of the OCK OSTree image, optionally with a transport (default "+ock.DefaultRegistry+")")
	f.StringVar(&o.OSTag, "os-tag", "", "tag of the OCK OSTree image (default for a registry: the Kubernetes version); in a file source, the name, tag or digest of one of its images")
	f.BoolVar(&o.TLSVerify, "tls-verify", true, "require HTTPS and verified certificates from the registry")
	f.BoolVar(&o.StaticDelta, "static-delta", true, "include a static delta, so that a node pulls the OS in a few large requests instead of one per file (the archive server rebuilds its parts from the objects: the image grows by well under 1%)")
	f.BoolVar(&o.Local, "local", false, "convert on this machine instead of in the current kubeconfig context")
	f.StringVar(&o.BuilderImage, "builder-image", "", "image the builder pod runs (default "+builderimage.Default(buildinfo.Version)+"; see builder-image; config key builderImage)")
	cli.AddAuthFileFlag(c, &o.AuthFile, "registry credentials file (auth.json); the builder pod gets it as a Secret")
	f.StringVar(&o.RegistriesConf, "registries-conf", "", "registries.conf(5) with mirrors for pulling the OCK image (config key registriesConf); in the cluster it becomes a ConfigMap")
	f.StringVar(&o.Destination, "destination", "", "have the builder pod push the result to TRANSPORT:REFERENCE instead of fetching it")
	f.DurationVar(&o.StartTimeout, "start-timeout", 5*time.Minute, "how long the builder pod may take to be scheduled and pulled")
	f.StringArrayVar(&o.BuilderArgs, "builder-arg", nil, "extra argument for the builder pod (debugging)")
	f.MarkHidden("builder-arg")
	o.kube = kubeflags.Add(c)
	o.Print.AddFileFlag(c, &o.OutputFile, "file to write (default ~/.ocne/images/ock-VERSION-ARCH-ostree.tar)", "tar")
	o.Print.AddFlags(c)
	o.Print.AddOutputFormatAlias(c)
	f.StringVarP(&o.ConfigFile, "config", "c", "", "cluster configuration file")
	f.StringVar(&o.Ref, "ref", "", "OSTree ref to serve the commit as, Kickstart's ostreesetup --ref (default: the ref the commit is bound to, else "+convert.DefaultRef+")")
	cli.AddVerboseFlag(c, &o.Verbose, "print more detail (repeat for more)")
	c.RegisterFlagCompletionFunc("type", cli.FixedCompletion("ostree"))
	c.RegisterFlagCompletionFunc("arch", cli.FixedCompletion(ock.Arches...))
	c.RegisterFlagCompletionFunc("version", cli.FixedCompletion(ock.Versions...))
	c.MarkFlagFilename("config", "yaml", "yml")
	c.MarkFlagFilename("registries-conf", "conf")
	return c
}

// Complete fills what the flags left unset from the configuration files,
// then from the built-in defaults.
func (o *CreateOptions) Complete(c *cobra.Command) error {
	cfg, err := loadConfig(o.defaultsDir, o.ConfigFile, o.ErrOut, o.kube)
	if err != nil {
		return err
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
	o.Version = normalizeVersion(o.Version, func(format string, args ...any) { fmt.Fprintf(o.ErrOut, format, args...) })
	pick("os-registry", &o.OSRegistry, cfg.OSRegistry, ock.DefaultRegistry)
	// A file holds what it holds: a default tag would only hide its image.
	defaultTag := o.Version
	if containerimage.IsFileSource(o.OSRegistry) {
		defaultTag = ""
	}
	pick("os-tag", &o.OSTag, cfg.OSTag, defaultTag)
	pick("builder-image", &o.BuilderImage, cfg.BuilderImage, builderimage.Default(buildinfo.Version))
	pick("registries-conf", &o.RegistriesConf, cfg.RegistriesConf, "")
	if p := cfg.Proxy; p != (config.Proxy{}) {
		o.proxy = &httpproxy.Config{HTTPProxy: p.HTTPProxy, HTTPSProxy: p.HTTPSProxy, NoProxy: p.NoProxy}
	}
	if o.OutputFile == "" {
		home := o.defaultsDir
		if home == "" {
			if home, err = os.UserHomeDir(); err != nil {
				return fmt.Errorf("find home directory for the default output: %w; pass --output-file", err)
			}
		}
		o.OutputFile = ock.ArchivePath(home, o.Version, o.Arch)
	}
	if o.clients == nil {
		o.clients = kubeflags.NewClients(o.kube)
	}
	// What the builder pod gets as a Secret and a ConfigMap. A file that
	// cannot be read is a bad flag (exit 2), as Validate would say.
	if o.auth, err = readFlagFile("--authfile", o.AuthFile); err != nil {
		return cli.Usage(err)
	}
	if o.registries, err = readFlagFile("--registries-conf", o.RegistriesConf); err != nil {
		return cli.Usage(err)
	}
	return nil
}

// Validate rejects bad flag values before any work starts.
func (o *CreateOptions) Validate() error {
	if o.Type != "ostree" {
		return cli.Usagef("unsupported --type %q: ostree is the only image type", o.Type)
	}
	if err := ock.ValidateArch(o.Arch); err != nil {
		return cli.Usage(err)
	}
	if err := ock.ValidateVersion(o.Version); err != nil {
		return cli.Usage(err)
	}
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if o.OSRegistry == "" {
		return cli.Usagef("--os-registry must not be empty")
	}
	if o.Ref != "" {
		if err := archiverepo.CheckRefName(o.Ref); err != nil {
			return cli.Usage(fmt.Errorf("--ref: %w", err))
		}
	}
	src, err := ock.SourceReference(o.OSRegistry, o.OSTag)
	if err != nil {
		return cli.Usage(fmt.Errorf("--os-registry and --os-tag: %w", err))
	}
	o.source = src
	if o.Destination != "" {
		if _, err := containerimage.ParseReference(o.Destination); err != nil {
			return cli.Usage(fmt.Errorf("--destination: %w", err))
		}
	}
	if o.RegistriesConf != "" {
		if err := containerimage.CheckRegistriesConf(o.RegistriesConf); err != nil {
			return cli.Usage(fmt.Errorf("--registries-conf: %w", err))
		}
	}
	return nil
}

// Run builds in the current kubeconfig context, or on this machine with
// --local, for a source that is a file here, or when no cluster answers.
func (o *CreateOptions) Run(ctx context.Context) error {
	if !o.Local && containerimage.IsFileSource(o.source) {
		// No builder pod can read this machine's files.
		fmt.Fprintf(o.ErrOut, "%s is a file on this machine: building here\n", o.source)
		o.Local = true
	}
	if !o.Local {
		err := o.clients.Reachable()
		if err == nil {
			return o.runInCluster(ctx, o.clients.Config)
		}
		fmt.Fprintf(o.ErrOut, "No reachable cluster (%v): building on this machine\n", err)
	}
	return o.runLocal(ctx)
}

func (o *CreateOptions) runInCluster(ctx context.Context, cfg *rest.Config) error {
	if o.BuilderImage == "" {
		return cli.Usagef("--builder-image must not be empty")
	}
	ns := kubeflags.Namespace(o.kube, DefaultNamespace)
	logw := io.Discard
	if o.Verbose > 0 {
		logw = o.ErrOut
	}
	pull := cli.NewProgressBar(o.ErrOut, "pull+convert")
	fetch := cli.NewProgressBar(o.ErrOut, "fetch")
	res, err := clusterbuild.Run(ctx, cfg, clusterbuild.Options{
		Namespace: ns, BuilderImage: o.BuilderImage, PullPolicy: builderPullPolicy(o.BuilderImage, buildinfo.Version), Proxy: podProxy(o.proxy),
		Source: o.source, Arch: o.Arch, Version: o.Version, Ref: o.Ref, NoStaticDelta: !o.StaticDelta,
		TLSVerify: o.TLSVerify, Auth: o.auth, RegistriesConf: o.registries,
		Destination: o.Destination, Output: o.OutputFile,
		StartTimeout: o.StartTimeout, ExtraArgs: o.BuilderArgs, Progress: pull, Fetch: fetch, Log: logw,
	})
	pull.Done()
	fetch.Done()
	var pullErr *clusterbuild.ImagePullError
	if errors.As(err, &pullErr) {
		return fmt.Errorf("%w; put this plugin's builder image into a registry the nodes reach with `kubectl ocne-image builder-image --registry REGISTRY` and pass --builder-image %s",
			err, builderimage.In("REGISTRY", buildinfo.Version))
	}
	if err != nil {
		return explain(err)
	}
	if o.Destination != "" {
		res.Output = o.Destination
	}
	return o.print(res)
}

// readFlagFile reads the file a flag names for the builder pod, if any.
func readFlagFile(flag, path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return b, nil
}

// builderPullPolicy makes the nodes pull the default builder image of a
// development build every time: its tag (git describe) stays the same
// while the binary changes, so a node's cached copy may be another build.
func builderPullPolicy(image, version string) corev1.PullPolicy {
	if image == builderimage.Default(version) && !buildinfo.IsRelease(version) {
		return corev1.PullAlways
	}
	return ""
}

// podProxy is the config's proxy as the builder pod needs it: registries
// in the cluster, by service name, are reached directly. (The pod never
// talks to the API server: it has no service account token.)
func podProxy(p *httpproxy.Config) *httpproxy.Config {
	if p == nil || p.HTTPProxy == "" && p.HTTPSProxy == "" {
		return nil
	}
	q := *p
	q.NoProxy = strings.Join(ignition.NoProxyList(p.NoProxy, "localhost", "127.0.0.1", ".svc", ".cluster.local"), ",")
	return &q
}

func (o *CreateOptions) runLocal(ctx context.Context) error {
	logw := io.Discard
	if o.Verbose > 0 {
		logw = o.ErrOut
	}
	fmt.Fprintf(logw, "Converting %s (%s)\n", o.source, o.Arch)
	bar := cli.NewProgressBar(o.ErrOut, "pull+convert")
	defer builder.LimitMemory()()
	res, err := builder.Build(ctx, builder.Options{
		Source: o.source, Arch: o.Arch, Version: o.Version, Ref: o.Ref, NoStaticDelta: !o.StaticDelta, Output: o.OutputFile,
		Image: containerimage.Options{Arch: o.Arch, TLSVerify: o.TLSVerify, Proxy: o.proxy, AuthFile: o.AuthFile,
			RegistriesConf: o.RegistriesConf},
		Progress: bar,
		Warn:     o.ErrOut,
		Log:      logw,
	})
	bar.Done()
	if err != nil {
		return explain(chooseWith(err, "--os-tag"))
	}
	if o.Destination != "" {
		src, err := containerimage.ArchiveReference(res.Output)
		if err != nil {
			return err
		}
		dest, _ := containerimage.ParseReference(o.Destination)
		if err := containerimage.Copy(ctx, src.ImageReference, dest.ImageReference, containerimage.Options{TLSVerify: o.TLSVerify, AuthFile: o.AuthFile}, nil); err != nil {
			return explain(err)
		}
	}
	return o.print(res)
}

func (o *CreateOptions) print(r *builder.Result) error {
	return o.Print.Print(o.Out, r, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s\n", r.Output)
		return err
	})
}

// chooseWith says how to pick one of the images of a file source.
func chooseWith(err error, how string) error {
	var choice *containerimage.ImageChoiceError
	if errors.As(err, &choice) {
		return fmt.Errorf("%w: choose one with %s", err, how)
	}
	return err
}

// explain adds what to do to the errors users can fix themselves.
func explain(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w: free some space or choose another --output-file", err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: choose a writable --output-file", err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted; nothing was written")
	case errors.Is(err, http.ErrSchemeMismatch):
		return fmt.Errorf("%w: pass --tls-verify=false for a plain-HTTP registry", err)
	}
	return err
}
