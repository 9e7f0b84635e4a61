package cmd

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/cli/kubeflags"
	"github.com/ocne-image/ocne-image/shared/clusterserve"
	"github.com/ocne-image/ocne-image/shared/kickstart"
)

const serveExample = `  # Build the archive in the cluster, push it, and serve it from two replicas
  kubectl ocne-image create --destination docker://registry.example.com/ocne/ock-ostree:1.33
  kubectl ocne-image serve --image registry.example.com/ocne/ock-ostree:1.33 \
      --kickstart ock.ks --ignition worker.ign

  # Generate the Kickstart: it installs from this server and boots with worker.ign
  kubectl ocne-image serve --image registry.example.com/ocne/ock-ostree:1.33 \
      --kickstart auto --ignition worker.ign

  # A fixed node port, three replicas
  kubectl ocne-image serve --image registry.example.com/ocne/ock-ostree:1.33 --node-port 30080 --replicas 3

  # Change the Kickstart: run it again; the pods roll over to the new file
  kubectl ocne-image serve --image registry.example.com/ocne/ock-ostree:1.33 --kickstart ock.ks

  # Remove everything serve created
  kubectl ocne-image serve --delete`

// ServeOptions are the inputs of `serve`.
type ServeOptions struct {
	Image       string
	Name        string
	Replicas    int32
	ServiceType string
	NodePort    int32
	Address     string
	Kickstart   []string
	Ignition    []string
	// IgnitionFile names the Ignition config a generated Kickstart boots
	// nodes with.
	IgnitionFile string
	Ref          string
	Timeout      time.Duration
	Delete       bool
	Print        *cli.PrintFlags
	Verbose      int
	kube         *genericclioptions.ConfigFlags

	clients    *kubeflags.Clients // tests set a fake
	auto       bool               // --kickstart auto
	kickstarts map[string][]byte  // the --kickstart files by name
	ignitions  map[string][]byte  // the --ignition files by name
	genericiooptions.IOStreams
}

// NewCmdServe returns the `serve` command.
func NewCmdServe(streams genericiooptions.IOStreams) *cobra.Command {
	c, _ := newCmdServe(streams)
	return c
}

// newCmdServe returns the command and the options it fills.
func newCmdServe(streams genericiooptions.IOStreams) (*cobra.Command, *ServeOptions) {
	o := &ServeOptions{IOStreams: streams, Print: cli.NewPrintFlags()}
	o.Print.JSONIndent = "  "
	c := &cobra.Command{
		Use:   "serve --image IMAGE [--kickstart FILE] [--ignition FILE] [flags]",
		Short: "Serve the archive inside the cluster, with Kickstart and Ignition files",
		Long: `Run the archive server image as a Deployment behind a Service in the
current kubeconfig context, with the Kickstart files (a ConfigMap) at /ks/
and the Ignition files (a Secret: they hold join tokens) at /ignition/, and
print the URLs nodes install from. Pods run non-root with a read-only root
filesystem; readiness waits for the repository itself.

Running serve again updates everything in place; --delete removes exactly
what serve created (found by its labels).

Whoever reaches the Service can fetch the Ignition files and with them join
the cluster until their token expires: keep the Service on the install
network.`,
		Example: serveExample,
		Args:    cli.Args(cobra.NoArgs),
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
	f.StringVar(&o.Image, "image", "", "the archive server image (e.g. what create --destination pushed)")
	f.StringVar(&o.Name, "name", "ock-ostree", "name of the Deployment, Service, ConfigMap and Secret")
	f.Int32Var(&o.Replicas, "replicas", 2, "number of server pods")
	f.StringVar(&o.ServiceType, "service-type", string(corev1.ServiceTypeNodePort), "ClusterIP, NodePort or LoadBalancer")
	f.Int32Var(&o.NodePort, "node-port", 0, "node port to use (default: allocated by the cluster)")
	f.StringVar(&o.Address, "address", "", "host name or IP nodes reach the service at (default: a node's InternalIP, or the load balancer's)")
	f.StringArrayVar(&o.Kickstart, "kickstart", nil, "Kickstart file to serve at /ks/NAME (repeatable); 'auto' writes ock.ks, which installs from this server")
	f.StringArrayVar(&o.Ignition, "ignition", nil, "Ignition file to serve at /ignition/NAME (repeatable)")
	f.StringVar(&o.Ref, "ref", kickstart.DefaultRef, "the OSTree ref --kickstart auto installs: the ref create served the commit as")
	f.StringVar(&o.IgnitionFile, "ignition-file", "", "the Ignition config --kickstart auto boots nodes with, under /ignition/ (default: the --ignition file if there is one, else ock.ign)")
	f.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "how long the pods may take to become ready")
	f.BoolVar(&o.Delete, "delete", false, "delete what serve created for --name")
	o.Print.AddFlags(c)
	cli.AddVerboseFlag(c, &o.Verbose, "print more detail")
	o.kube = kubeflags.Add(c)
	c.RegisterFlagCompletionFunc("service-type", cli.FixedCompletion("ClusterIP", "NodePort", "LoadBalancer"))
	c.MarkFlagFilename("kickstart", "ks", "cfg")
	c.MarkFlagFilename("ignition", "ign", "json")
	return c, o
}

// Complete builds the cluster's clients and reads the files to serve.
func (o *ServeOptions) Complete() error {
	// Only for the files' kubeconfig: serve takes no other key.
	if _, err := loadConfig("", "", o.ErrOut, o.kube); err != nil {
		return err
	}
	if o.clients == nil {
		o.clients = kubeflags.NewClients(o.kube)
	}
	if o.Delete {
		return nil
	}
	o.auto = slices.Contains(o.Kickstart, "auto")
	// The names before the contents: a clash is the mistake to report.
	for _, k := range o.Kickstart {
		if k != "auto" && filepath.Base(k) == autoKickstart && o.auto {
			return cli.Usagef("--kickstart %s and --kickstart auto would both be %s: rename the file", k, autoKickstart)
		}
	}
	var err error
	if o.kickstarts, err = readFiles(slices.DeleteFunc(slices.Clone(o.Kickstart), func(p string) bool { return p == "auto" }), "--kickstart"); err != nil {
		return err
	}
	if o.ignitions, err = readFiles(o.Ignition, "--ignition"); err != nil {
		return err
	}
	if o.IgnitionFile == "" {
		o.IgnitionFile = "ock.ign"
		if len(o.Ignition) == 1 {
			o.IgnitionFile = filepath.Base(o.Ignition[0])
		}
	}
	return nil
}

// autoKickstart is the name --kickstart auto serves its file under.
const autoKickstart = "ock.ks"

// Validate rejects bad flag values before anything is created.
func (o *ServeOptions) Validate() error {
	if errs := validation.IsDNS1035Label(o.Name); len(errs) != 0 {
		return cli.Usagef("invalid --name %q: %s", o.Name, errs[0])
	}
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if o.Delete {
		return nil
	}
	if o.Image == "" {
		return cli.Usagef("--image is required: the archive server image the nodes' cluster can pull (push one with create --destination or upload)")
	}
	switch corev1.ServiceType(o.ServiceType) {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
	default:
		return cli.Usagef("invalid --service-type %q: use ClusterIP, NodePort or LoadBalancer", o.ServiceType)
	}
	if err := archiverepo.CheckRefName(o.Ref); err != nil {
		return cli.Usage(fmt.Errorf("--ref: %w", err))
	}
	if o.NodePort != 0 && corev1.ServiceType(o.ServiceType) == corev1.ServiceTypeClusterIP {
		return cli.Usagef("--node-port needs --service-type NodePort or LoadBalancer")
	}
	if o.NodePort < 0 || o.NodePort > 65535 {
		return cli.Usagef("invalid --node-port %d", o.NodePort)
	}
	if o.IgnitionFile != "" {
		if errs := validation.IsConfigMapKey(o.IgnitionFile); len(errs) != 0 || strings.Contains(o.IgnitionFile, "/") {
			return cli.Usagef("invalid --ignition-file %q: a file name", o.IgnitionFile)
		}
	}
	if o.Replicas < 1 {
		return cli.Usagef("--replicas must be at least 1")
	}
	return nil
}

// Run applies (or deletes) the server.
func (o *ServeOptions) Run(ctx context.Context) error {
	if err := o.clients.Reachable(); err != nil {
		return err
	}
	cs := o.clients.Kube
	ns := kubeflags.Namespace(o.kube, DefaultNamespace)
	if o.Delete {
		deleted, err := clusterserve.Delete(ctx, cs, ns, o.Name)
		for _, d := range deleted {
			fmt.Fprintf(o.Out, "deleted %s/%s\n", ns, d)
		}
		if err == nil && len(deleted) == 0 {
			fmt.Fprintf(o.ErrOut, "nothing named %s to delete in namespace %s\n", o.Name, ns)
		}
		return err
	}
	ks, ignName := o.kickstarts, o.IgnitionFile
	logw := io.Discard
	if o.Verbose > 0 {
		logw = o.ErrOut
	}
	opts := clusterserve.Options{
		Namespace: ns, Name: o.Name, Image: o.Image, Replicas: o.Replicas,
		ServiceType: corev1.ServiceType(o.ServiceType), NodePort: o.NodePort, Address: o.Address,
		Ignition: o.ignitions, Timeout: o.Timeout, Log: logw,
	}
	switch {
	case o.auto:
		opts.Kickstart = func(base string) (map[string][]byte, error) {
			// Written once the Service's address is known, so it points at it.
			b, err := kickstart.Render(kickstart.Config{
				OSTreeURL: base + "/ostree", IgnitionURL: base + "/ignition/" + ignName, Ref: o.Ref,
			})
			if err != nil {
				return nil, fmt.Errorf("--kickstart auto: %w", err)
			}
			files := maps.Clone(ks)
			if files == nil {
				files = map[string][]byte{}
			}
			files[autoKickstart] = b
			return files, nil
		}
	case len(ks) != 0:
		opts.Kickstart = func(string) (map[string][]byte, error) { return ks, nil }
	}
	res, err := clusterserve.Apply(ctx, cs, opts)
	if err != nil {
		return err
	}
	return o.print(res)
}

func (o *ServeOptions) print(r *clusterserve.Result) error {
	return o.Print.Print(o.Out, r, func(w io.Writer) error {
		fmt.Fprintf(w, "OSTree:    %s (ref ock)\n", r.OSTreeURL)
		for _, k := range r.Kickstart {
			fmt.Fprintf(w, "Kickstart: %s\n", k)
		}
		for _, i := range r.Ignition {
			fmt.Fprintf(w, "Ignition:  %s\n", i)
		}
		if len(r.Kickstart) != 0 {
			fmt.Fprintf(w, "Boot the installer with: inst.ks=%s\n", r.Kickstart[0])
		}
		if !r.InCluster && !r.Answered {
			fmt.Fprintf(o.ErrOut, "warning: %s does not answer from this machine (yet); nodes on the install network may still reach it\n", r.OSTreeURL)
		}
		if r.InCluster {
			fmt.Fprintln(o.ErrOut, "note: a ClusterIP service is reachable from inside the cluster only; use --service-type NodePort for machines outside it")
		}
		return nil
	})
}

// readFiles reads each file under its base name, refusing two files of
// the same name (one would hide the other).
func readFiles(paths []string, flag string) (map[string][]byte, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	files := make(map[string][]byte, len(paths))
	for _, p := range paths {
		name := filepath.Base(p)
		if errs := validation.IsConfigMapKey(name); len(errs) != 0 {
			return nil, cli.Usagef("%s %s: the file name cannot be served: %s", flag, p, strings.Join(errs, "; "))
		}
		if _, dup := files[name]; dup {
			return nil, cli.Usagef("%s: two files named %s", flag, name)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, cli.Usage(fmt.Errorf("%s: %w", flag, err))
		}
		files[name] = b
	}
	return files, nil
}
