package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/clusterserve"
	"github.com/ocne-image/ocne-image/shared/config"
	"github.com/ocne-image/ocne-image/shared/kube"
	"github.com/ocne-image/ocne-image/shared/pluginhost"
)

const ignitionPublishExample = `  # Into the directory a web server exposes; prints the URL a node boots with
  kubectl ocne-image ignition publish --backend dir \
    --publish-opt dir=/srv/ocne/ignition --publish-opt base-url=http://192.0.2.10:8080/ignition worker.ign

  # To any web server accepting PUT and DELETE, token read from a file
  kubectl ocne-image ignition publish --backend http-put --publish-opt base-url=https://web.example.com/ign/ \
    --publish-opt token-file=~/.ocne/web-token worker.ign

  # Through matchbox, for one node (options usually live in ~/.ocne/ocne-image.yaml)
  kubectl ocne-image ignition publish --backend matchbox --selector mac=52:54:00:12:34:56 worker.ign`

// hostingFlags are the flags every command that talks to a hosting
// backend shares; `ignition join --publish` reuses them.
type hostingFlags struct {
	Backend    string
	Opts       []string
	ConfigFile string
	Verbose    int

	backend hostingBackend // a test's fake, else connect starts the backend
}

// hostingBackend is what the hosting commands use of a backend
// (pluginhost.Backend).
type hostingBackend interface {
	Publish(ctx context.Context, config []byte, p pluginhost.Publication) (ignitionhost.Entry, error)
	Unpublish(ctx context.Context, name string) error
	List(ctx context.Context) ([]ignitionhost.Entry, error)
	Close()
}

func (h *hostingFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&h.Backend, "backend", "", "Ignition hosting backend: a built-in (dir) or an ocne-ignition-<backend> plugin; see 'plugins list'")
	f.StringArrayVar(&h.Opts, "publish-opt", nil, "backend option KEY=VALUE (repeatable); defaults from ignitionPlugins.<backend>.options in ~/.ocne/ocne-image.yaml")
	f.StringVarP(&h.ConfigFile, "config", "c", "", "cluster configuration file")
	cli.AddVerboseFlag(c, &h.Verbose, "print more detail, and the plugin's own log")
	c.RegisterFlagCompletionFunc("backend", completeBackends)
	c.MarkFlagFilename("config", "yaml", "yml")
}

// connect starts the backend, or returns the fake a test set. Run calls
// it: a backend may be a plugin process, started once the flags are
// known to be good and stopped (Close) when Run is done.
func (h *hostingFlags) connect(ctx context.Context, errOut io.Writer) (hostingBackend, error) {
	if h.backend != nil {
		return h.backend, nil
	}
	return h.open(ctx, errOut)
}

// addPublish registers --publish BACKEND and --publish-opt for `ignition
// join`, which has its own --config and -v: copy those into ConfigFile and
// Verbose before openWith, and hand the backend to join.Plan.Commit, which
// publishes the config and unpublishes it on a failure.
func (h *hostingFlags) addPublish(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&h.Backend, "publish", "", "publish the config through this Ignition hosting backend and print its URL; see 'plugins list'")
	f.StringArrayVar(&h.Opts, "publish-opt", nil, "backend option KEY=VALUE (repeatable); defaults from ignitionPlugins.<backend>.options in ~/.ocne/ocne-image.yaml")
	c.RegisterFlagCompletionFunc("publish", completeBackends)
}

func completeBackends(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	cfg, _ := loadConfig("", "", io.Discard, nil)
	var names []string
	for _, i := range pluginhost.Discover(pluginhost.SearchDirs(), builtinBackends(), cfg.IgnitionPlugins) {
		if i.Checksum != pluginhost.ChecksumMissing {
			names = append(names, i.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// parseKV parses repeated KEY=VALUE flags.
func parseKV(flag string, values []string) (map[string]string, error) {
	m := map[string]string{}
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, cli.Usagef("--%s %q: want KEY=VALUE", flag, v)
		}
		m[k] = val
	}
	return m, nil
}

// open reads the configuration files and starts the backend.
func (h *hostingFlags) open(ctx context.Context, errOut io.Writer) (*pluginhost.Backend, error) {
	cfg, err := loadConfig("", h.ConfigFile, errOut, nil)
	if err != nil {
		return nil, err
	}
	return h.openWith(ctx, errOut, cfg)
}

// openWith starts the backend with the configuration a command already
// read. Usage mistakes (unknown backend, a bad or missing option) exit 2;
// the rest 1.
func (h *hostingFlags) openWith(ctx context.Context, errOut io.Writer, cfg config.Config) (*pluginhost.Backend, error) {
	if h.Backend == "" {
		return nil, cli.Usagef("--backend is required; see 'kubectl ocne-image plugins list'")
	}
	opts, err := parseKV("publish-opt", h.Opts)
	if err != nil {
		return nil, err
	}
	// The cluster backend picks its cluster as every command does.
	if _, set := opts["kubeconfig"]; h.Backend == "cluster" && !set && cfg.IgnitionPlugins["cluster"].Options["kubeconfig"] == "" {
		if p := kube.Kubeconfig("", cfg.KubeConfig); p != "" {
			opts["kubeconfig"] = p
		}
	}
	o := pluginhost.Options{
		Builtins:       builtinBackends(),
		Plugins:        cfg.IgnitionPlugins,
		BackendOptions: opts,
		Warn:           func(format string, args ...any) { fmt.Fprintf(errOut, "warning: "+format+"\n", args...) },
	}
	if h.Verbose > 0 {
		o.Log = errOut
		keys := slices.Sorted(maps.Keys(opts))
		fmt.Fprintf(errOut, "backend %s, options set: %s\n", h.Backend, strings.Join(keys, ", "))
	}
	b, err := pluginhost.Open(ctx, h.Backend, o)
	return b, hostingError(err)
}

// builtinBackends are the Ignition hosting backends compiled into the
// plugin. They are wired here, not in pluginhost, so the SDK side
// (plugins/conformance) does not link the cluster backend's client-go.
func builtinBackends() pluginhost.Builtins {
	return pluginhost.Builtins{"dir": pluginhost.DirHost{}, "cluster": clusterserve.IgnitionHost{}}
}

func hostingError(err error) error {
	if errors.Is(err, pluginhost.ErrUnknownBackend) || errors.Is(err, ignitionhost.ErrInvalidOptions) {
		return cli.Usage(err)
	}
	return err
}

// IgnitionPublishOptions are the inputs of `ignition publish`.
type IgnitionPublishOptions struct {
	hostingFlags
	File     string
	Name     string
	Selector []string
	TTL      time.Duration
	Print    *cli.PrintFlags

	config   []byte // the file's
	selector map[string]string
	genericiooptions.IOStreams
}

func newCmdIgnitionPublish(streams genericiooptions.IOStreams) (*cobra.Command, *IgnitionPublishOptions) {
	o := &IgnitionPublishOptions{IOStreams: streams, Print: cli.NewPrintFlags()}
	c := &cobra.Command{
		Use:   "publish --backend NAME [--publish-opt KEY=VALUE]... FILE|-",
		Short: "Publish an Ignition config and print the URL a node boots with",
		Long: `Publish an Ignition config (JSON) through a hosting backend and print the
URL for the node's ignition.config.url. The config holds a join token:
it is published under a random, unguessable name unless --name says
otherwise, and expires with the token (--ttl); 'ignition list' reports
expired entries and 'ignition unpublish' deletes them.`,
		Example: ignitionPublishExample,
		Args:    cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	o.hostingFlags.add(c)
	f := c.Flags()
	f.StringVar(&o.Name, "name", "", "publish under this name instead of a random one")
	f.StringArrayVar(&o.Selector, "selector", nil, "node selector KEY=VALUE (mac, uuid) for backends that select nodes (repeatable)")
	f.DurationVar(&o.TTL, "ttl", 24*time.Hour, "when the config's join token expires; 0: never")
	o.Print.AddFlags(c)
	return c, o
}

// Complete reads the config to publish.
func (o *IgnitionPublishOptions) Complete(args []string) error {
	o.File = args[0]
	var err error
	if o.File == "-" {
		o.config, err = io.ReadAll(o.In)
	} else {
		o.config, err = os.ReadFile(o.File)
	}
	if err != nil {
		return cli.Usagef("read Ignition config: %v", err)
	}
	if !json.Valid(o.config) {
		return cli.Usagef("%s is not JSON: publish an Ignition config (convert Butane YAML first)", o.File)
	}
	o.selector, err = parseKV("selector", o.Selector)
	return err
}

// Validate rejects bad flags before anything is published.
func (o *IgnitionPublishOptions) Validate() error {
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if o.TTL < 0 {
		return cli.Usagef("--ttl %s: must not be negative", o.TTL)
	}
	if o.Name != "" {
		if err := ignitionhost.ValidName(o.Name); err != nil {
			return cli.Usage(fmt.Errorf("--name: %w", err))
		}
	}
	return nil
}

// Run publishes the file.
func (o *IgnitionPublishOptions) Run(ctx context.Context) error {
	pub := pluginhost.Publication{Name: o.Name, Selector: o.selector}
	if o.TTL > 0 {
		pub.Expires = time.Now().Add(o.TTL).UTC().Truncate(time.Second)
	}
	b, err := o.connect(ctx, o.ErrOut)
	if err != nil {
		return err
	}
	defer b.Close()
	e, err := b.Publish(ctx, o.config, pub)
	if err != nil {
		return hostingError(err)
	}
	return o.Print.Print(o.Out, e, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, e.URL)
		return err
	})
}

// IgnitionUnpublishOptions are the inputs of `ignition unpublish`.
type IgnitionUnpublishOptions struct {
	hostingFlags
	Names   []string
	Expired bool
	genericiooptions.IOStreams
}

func newCmdIgnitionUnpublish(streams genericiooptions.IOStreams) (*cobra.Command, *IgnitionUnpublishOptions) {
	o := &IgnitionUnpublishOptions{IOStreams: streams}
	c := &cobra.Command{
		Use:   "unpublish --backend NAME [--publish-opt KEY=VALUE]... (NAME...|--expired)",
		Short: "Delete published Ignition configs, remote copies included",
		Example: `  # One config, by the name 'ignition list' shows
  kubectl ocne-image ignition unpublish --backend http-put 3f9c0e2a7d1b4c5e8f6a9b0c1d2e3f40

  # Every config whose join token has expired
  kubectl ocne-image ignition unpublish --backend dir --expired`,
		RunE: func(c *cobra.Command, args []string) error {
			o.Names = args
			if err := o.Validate(c.CommandPath()); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	o.hostingFlags.add(c)
	c.Flags().BoolVar(&o.Expired, "expired", false, "unpublish every config whose token has expired")
	return c, o
}

// Validate refuses a call that names nothing to unpublish.
func (o *IgnitionUnpublishOptions) Validate(commandPath string) error {
	if len(o.Names) == 0 && !o.Expired {
		return cli.Usagef("name a published config, or pass --expired; see '%s --help'", commandPath)
	}
	return nil
}

// Run unpublishes.
func (o *IgnitionUnpublishOptions) Run(ctx context.Context) error {
	b, err := o.connect(ctx, o.ErrOut)
	if err != nil {
		return err
	}
	defer b.Close()
	names := o.Names
	if o.Expired {
		entries, err := b.List(ctx)
		if err != nil {
			return hostingError(err)
		}
		now := time.Now()
		for _, e := range entries {
			if e.Expired(now) {
				names = append(names, e.Name)
			}
		}
	}
	for _, n := range names {
		if err := b.Unpublish(ctx, n); err != nil {
			return hostingError(err)
		}
		if o.Verbose > 0 {
			fmt.Fprintf(o.ErrOut, "unpublished %s\n", n)
		}
	}
	return nil
}

// IgnitionListOptions are the inputs of `ignition list`.
type IgnitionListOptions struct {
	hostingFlags
	Print *cli.PrintFlags
	genericiooptions.IOStreams
}

func newCmdIgnitionList(streams genericiooptions.IOStreams) (*cobra.Command, *IgnitionListOptions) {
	o := &IgnitionListOptions{IOStreams: streams, Print: cli.NewPrintFlags()}
	c := &cobra.Command{
		Use:   "list --backend NAME [--publish-opt KEY=VALUE]...",
		Short: "List published Ignition configs; expired ones are marked",
		Example: `  kubectl ocne-image ignition list --backend dir
  kubectl ocne-image ignition list --backend matchbox -o json`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
	}
	o.hostingFlags.add(c)
	o.Print.AddFlags(c)
	return c, o
}

// Validate checks the output format.
func (o *IgnitionListOptions) Validate() error { return o.Print.Validate() }

// listedEntry is an entry as printed, with its expiry judged now.
type listedEntry struct {
	ignitionhost.Entry
	Expired bool `json:"expired"`
}

// Run lists.
func (o *IgnitionListOptions) Run(ctx context.Context) error {
	b, err := o.connect(ctx, o.ErrOut)
	if err != nil {
		return err
	}
	defer b.Close()
	entries, err := b.List(ctx)
	if err != nil {
		return hostingError(err)
	}
	slices.SortFunc(entries, func(a, b ignitionhost.Entry) int { return strings.Compare(a.Name, b.Name) })
	now := time.Now()
	listed := make([]listedEntry, 0, len(entries))
	for _, e := range entries {
		listed = append(listed, listedEntry{Entry: e, Expired: e.Expired(now)})
	}
	return o.Print.Print(o.Out, listed, func(out io.Writer) error {
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tEXPIRES\tSTATUS\tURL")
		for _, e := range listed {
			expires, status := "never", "active"
			if !e.Expires.IsZero() {
				expires = e.Expires.Local().Format(time.RFC3339)
			}
			if e.Expired {
				status = "EXPIRED"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Name, expires, status, e.URL)
		}
		return w.Flush()
	})
}
