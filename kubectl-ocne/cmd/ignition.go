package cmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/builderimage"
	"github.com/ocne-image/ocne-image/shared/buildinfo"
	"github.com/ocne-image/ocne-image/shared/certupload"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/cli/kubeflags"
	"github.com/ocne-image/ocne-image/shared/config"
	"github.com/ocne-image/ocne-image/shared/ignition"
	"github.com/ocne-image/ocne-image/shared/join"
	"github.com/ocne-image/ocne-image/shared/jointoken"
	"github.com/ocne-image/ocne-image/shared/ock"
)

// NewCmdIgnition returns the `ignition` parent command; each subcommand
// handles one thing to do with node Ignition configs.
func NewCmdIgnition(streams genericiooptions.IOStreams) *cobra.Command {
	c := &cobra.Command{
		Use:   "ignition",
		Short: "Write the first-boot Ignition configs of OCK nodes",
		Long: `Ignition configs for OCK nodes: "init" starts a new cluster (its CA, the
first control-plane node's config and an admin kubeconfig); "join" writes
one that joins a node to the cluster of the current kubeconfig context; "publish", "unpublish" and "list"
put configs where nodes fetch them, through a hosting backend (see
"kubectl ocne-image plugins list").`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	initCmd, _ := newCmdIgnitionInit(streams)
	publish, _ := newCmdIgnitionPublish(streams)
	unpublish, _ := newCmdIgnitionUnpublish(streams)
	list, _ := newCmdIgnitionList(streams)
	c.AddCommand(NewCmdIgnitionJoin(streams), initCmd, publish, unpublish, list)
	return c
}

const ignitionJoinExample = `  # A worker of the current cluster; the file holds a 24h join token
  kubectl ocne-image ignition join --role worker --output-file worker.ign

  # A control-plane node behind a load balancer, with the certificates
  # uploaded by a short-lived privileged pod on an existing control plane
  kubectl ocne-image ignition join --role control-plane --api-server lb.example.com:6443 \
    --upload-certs --upload-certs-image registry.example.com/ocne/builder:1.0 --output-file cp.ign

  # Your own additions (Ignition JSON or Butane YAML), an SSH key, a short-lived token
  kubectl ocne-image ignition join --extra-ignition extra.bu --ssh-public-key-file ~/.ssh/id_ed25519.pub --ttl 2h --output-file worker.ign

  # No rights on kube-system secrets: print the kubeadm command that creates the token
  kubectl ocne-image ignition join --token-only-print --output-file worker.ign`

// IgnitionJoinOptions are the inputs of `ignition join`.
type IgnitionJoinOptions struct {
	Role            string
	OutputFile      string
	Print           *cli.PrintFlags
	TTL             time.Duration
	TokenOnlyPrint  bool
	IgnitionVersion string
	APIServer       string
	NetInterface    string
	ExtraIgnition   string
	UploadCerts     bool
	UploadImage     string
	ConfigFile      string
	SSHKeyFile      string
	PasswordHash    string
	OSRegistry      string
	OSTag           string
	Registry        string
	Verbose         int

	kube        *genericclioptions.ConfigFlags
	clients     *kubeflags.Clients // of the cluster joined; tests set a fake
	publish     hostingFlags
	cfg         config.Config
	extras      []ignition.Extra
	sshKeys     []string
	update      ignition.Update // registry and transport; the tag may wait for the cluster's version
	defaultsDir string          // tests point this at a fake home

	genericiooptions.IOStreams
}

// NewCmdIgnitionJoin returns the `ignition join` command.
func NewCmdIgnitionJoin(streams genericiooptions.IOStreams) *cobra.Command {
	c, _ := newCmdIgnitionJoin(streams)
	return c
}

// newCmdIgnitionJoin returns the command and the options it fills, which
// tests complete with a fake cluster.
func newCmdIgnitionJoin(streams genericiooptions.IOStreams) (*cobra.Command, *IgnitionJoinOptions) {
	o := &IgnitionJoinOptions{IOStreams: streams, Print: cli.NewPrintFlags()}
	c := &cobra.Command{
		Use:   "join --role worker|control-plane [--output-file FILE] [flags]",
		Short: "Write the Ignition config of a node that joins the current cluster",
		Long: `Create a bootstrap token in the cluster of the current kubeconfig context
and write the Ignition config (spec ` + ignition.DefaultVersion + `) an OCK node boots with to join it:
the kubeadm JoinConfiguration with the API server endpoint, the token and
the CA hashes, the units OCK starts, its update source, registries, proxy
and the ocne user.

The file holds the join token (and for control planes the certificate
key): it is written 0600, and whoever can read it can join the cluster
until the token expires (--ttl).

For --role control-plane the certificates must be uploaded under the key
in the file. --upload-certs does it through a PRIVILEGED pod (root, host
network, the node's /etc/kubernetes and kubeadm mounted) on a
control-plane node, deleted afterwards; without it the kubeadm command
to run on a control-plane node is printed.

The config follows ocne's bring-your-own provider: the node updates from
osRegistry (without a tag) at osTag (default: the cluster's minor
version); the ocne user (group wheel, OCK's rescue shell) gets the SSH key
and password hash; a proxy reaches crio, kubelet, ocne-update and
rpm-ostreed; the kubeadm patches directory exists. A control plane behind
virtualIp binds its API server to kubeApiServerBindPortAlt (6444) and
gets keepalived and nginx, which serve kubeApiServerBindPort (6443) on
the virtual IP.

Defaults come from ~/.ocne/defaults.yaml, ~/.ocne/ocne-image.yaml and the
--config cluster file (registry, password, sshPublicKey, sshPublicKeyPath
(default ~/.ssh/id_rsa.pub if it exists), podSubnet, serviceSubnet,
kubeProxyMode, kubeApiServerBindPort, kubeApiServerBindPortAlt, virtualIp,
loadBalancer, cipherSuites, proxy, osRegistry, osTag, extraIgnition (a file
or a directory, relative to the config file), extraIgnitionInline,
providers.byo.networkInterface, providers.byo.automaticTokenCreation
(false: print the token command instead of creating the token, as ocne
does)); flags win.`,
		Example: ignitionJoinExample,
		Args:    cli.Args(cobra.NoArgs),
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
	f.StringVar(&o.Role, "role", "worker", "role of the node: worker or control-plane")
	o.Print.AddFileFlag(c, &o.OutputFile, "file to write the Ignition config to, mode 0600 (default: standard output)", "ign", "json")
	f.DurationVar(&o.TTL, "ttl", 24*time.Hour, "how long the join token works; 0 never expires")
	f.BoolVar(&o.TokenOnlyPrint, "token-only-print", false, "do not create the token: print the kubeadm token create command that does (config providers.byo.automaticTokenCreation: false)")
	f.StringVar(&o.APIServer, "api-server", "", "HOST[:PORT] nodes reach the API server at (default: config virtualIp or loadBalancer, else the kubeconfig's, else the cluster-info ConfigMap's; the port defaults to kubeApiServerBindPort, 6443)")
	o.addNodeFlags(c)
	o.publish.addPublish(c)
	f.BoolVar(&o.UploadCerts, "upload-certs", false, "control-plane: upload the certificates through a privileged pod on a control-plane node")
	f.StringVar(&o.UploadImage, "upload-certs-image", "", "image of the --upload-certs pod; it runs the node's own kubeadm (default: config builderImage, else "+builderimage.Default(buildinfo.Version)+")")
	f.StringVarP(&o.ConfigFile, "config", "c", "", "cluster configuration file")
	o.kube = kubeflags.Add(c)
	c.RegisterFlagCompletionFunc("role", cli.FixedCompletion("worker", "control-plane"))
	c.MarkFlagFilename("config", "yaml", "yml")
	return c, o
}

// addNodeFlags adds the flags of what every node's config holds, whatever
// its role: join's and init's.
func (o *IgnitionJoinOptions) addNodeFlags(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&o.IgnitionVersion, "ignition-version", ignition.DefaultVersion, "Ignition spec version to write: "+strings.Join(ignition.Versions, ", "))
	f.StringVar(&o.NetInterface, "net-interface", "", "network interface whose address the node uses (config providers.byo.networkInterface)")
	f.StringVar(&o.ExtraIgnition, "extra-ignition", "", "Ignition JSON or Butane YAML file, or a directory of them, merged last (config extraIgnition, then extraIgnitionInline)")
	f.StringVar(&o.SSHKeyFile, "ssh-public-key-file", "", "authorized SSH key(s) for the ocne user (config sshPublicKeyPath, sshPublicKey)")
	f.StringVar(&o.PasswordHash, "password-hash", "", "crypt(3) hash of the ocne user's password, e.g. from 'openssl passwd -6' (config password)")
	f.StringVar(&o.OSRegistry, "os-registry", "", "OCK OSTree image repository the node updates from, without a tag; an ostree transport may lead (default "+ock.DefaultRegistry+")")
	f.StringVar(&o.OSTag, "os-tag", "", "tag of the OCK OSTree image the node updates to (config osTag; default: the cluster's minor version)")
	f.StringVar(&o.Registry, "registry", "", "registry for unqualified container image names (config registry; default "+ignition.DefaultContainerRegistry+")")
	cli.AddVerboseFlag(c, &o.Verbose, "print more detail on standard error")
	o.Print.AddFlags(c)
	c.RegisterFlagCompletionFunc("ignition-version", cli.FixedCompletion(ignition.Versions...))
	c.RegisterFlagCompletionFunc("net-interface", interfaceCompletion)
	c.MarkFlagFilename("extra-ignition", "ign", "json", "bu", "yaml", "yml")
	c.MarkFlagFilename("ssh-public-key-file", "pub")
}

// interfaceCompletion offers this machine's interfaces: often the node's
// are named alike.
func interfaceCompletion(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	ifs, _ := net.Interfaces()
	var names []string
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			names = append(names, i.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// Complete fills unset flags from the configuration files, reads the
// files the flags name and builds the clients of the cluster joined.
func (o *IgnitionJoinOptions) Complete(c *cobra.Command) error {
	if err := o.completeNode(c); err != nil {
		return err
	}
	if o.clients == nil {
		o.clients = kubeflags.NewClients(o.kube)
	}
	return nil
}

func noClusterError(err error) error {
	return fmt.Errorf("no cluster for the node to join: %w (for a cluster not running yet, write its first nodes' configs with `ignition init --workers N`)", err)
}

// completeNode is Complete without the cluster: what init shares.
func (o *IgnitionJoinOptions) completeNode(c *cobra.Command) error {
	cfg, err := loadConfig(o.defaultsDir, o.ConfigFile, o.ErrOut, o.kube)
	if err != nil {
		return err
	}
	o.cfg = cfg
	if err := cfg.Node.Validate(); err != nil {
		return cli.Usagef("%s: %v", configName(o.ConfigFile), err)
	}
	changed := c.Flags().Changed
	pick := func(flag string, dst *string, fromConfig ...string) {
		if changed(flag) {
			return
		}
		for _, v := range fromConfig {
			if v != "" {
				*dst = v
				return
			}
		}
	}
	pick("api-server", &o.APIServer, cfg.VirtualIP, cfg.LoadBalancer)
	pick("net-interface", &o.NetInterface, cfg.Providers.BYO.NetworkInterface)
	pick("extra-ignition", &o.ExtraIgnition, cfg.ExtraIgnition)
	pick("upload-certs-image", &o.UploadImage, cfg.BuilderImage, builderimage.Default(buildinfo.Version))
	pick("password-hash", &o.PasswordHash, cfg.Password)
	pick("os-registry", &o.OSRegistry, cfg.OSRegistry, ock.DefaultRegistry)
	pick("os-tag", &o.OSTag, cfg.OSTag)
	pick("registry", &o.Registry, cfg.Registry, ignition.DefaultContainerRegistry)
	// ocne's automaticTokenCreation, unless our flag says otherwise; with
	// it, ocne also uploads a control plane's certificates.
	if auto := cfg.Providers.BYO.AutomaticTokenCreation; auto != nil {
		if !changed("token-only-print") {
			o.TokenOnlyPrint = !*auto
		}
		if !changed("upload-certs") && o.Role == "control-plane" {
			o.UploadCerts = *auto
		}
	}

	if o.ExtraIgnition != "" {
		if o.extras, err = ignition.ReadExtra(o.ExtraIgnition); err != nil {
			return cli.Usagef("--extra-ignition: %v", err)
		}
	}
	if cfg.ExtraIgnitionInline != "" {
		o.extras = append(o.extras, ignition.Extra{Name: "extraIgnitionInline", Data: []byte(cfg.ExtraIgnitionInline)})
	}
	return o.completeSSHKeys(changed("ssh-public-key-file"))
}

// completeSSHKeys reads the ocne user's keys as ocne does: the flag, else
// sshPublicKey, else sshPublicKeyPath, else ~/.ssh/id_rsa.pub if present.
func (o *IgnitionJoinOptions) completeSSHKeys(flagSet bool) error {
	switch {
	case flagSet:
	case o.cfg.SSHPublicKey != "":
		o.sshKeys = sshKeys(o.cfg.SSHPublicKey)
		return nil
	case o.cfg.SSHPublicKeyPath != "":
		o.SSHKeyFile = o.cfg.SSHPublicKeyPath
	default:
		home := o.defaultsDir
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if p := filepath.Join(home, ".ssh", "id_rsa.pub"); home != "" && fileExists(p) {
			o.SSHKeyFile = p
		}
	}
	if o.SSHKeyFile == "" {
		return nil
	}
	b, err := os.ReadFile(o.SSHKeyFile)
	if err != nil {
		return cli.Usagef("--ssh-public-key-file: %v", err)
	}
	o.sshKeys = sshKeys(string(b))
	return nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// configName names where the node keys came from, for errors.
func configName(clusterFile string) string {
	if clusterFile != "" {
		return clusterFile
	}
	return "config"
}

func sshKeys(s string) []string {
	var keys []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			keys = append(keys, l)
		}
	}
	return keys
}

// Validate rejects bad flag values before anything is created.
func (o *IgnitionJoinOptions) Validate() error {
	if o.Role != "worker" && o.Role != "control-plane" {
		return cli.Usagef("invalid --role %q: use worker or control-plane", o.Role)
	}
	if !slices.Contains(ignition.Versions, o.IgnitionVersion) {
		return cli.Usagef("unsupported --ignition-version %q: use one of %s", o.IgnitionVersion, strings.Join(ignition.Versions, ", "))
	}
	if o.TTL < 0 {
		return cli.Usagef("invalid --ttl %s: use a positive duration, or 0 for a token that never expires", o.TTL)
	}
	transport, repo, err := ock.UpdateSource(o.OSRegistry)
	if err != nil {
		return cli.Usage(fmt.Errorf("--os-registry: %w", err))
	}
	o.update = ignition.Update{Registry: repo, Transport: transport, Tag: o.OSTag}
	if strings.ContainsAny(o.OSTag, " \n\t:/@") {
		return cli.Usagef("invalid --os-tag %q: want a tag such as %s", o.OSTag, ock.DefaultVersion())
	}
	if o.APIServer != "" {
		ep, err := jointoken.ParseEndpoint(o.APIServer, o.cfg.BindPort())
		if err != nil {
			return cli.Usagef("--api-server: %v", err)
		}
		o.APIServer = ep
	}
	if o.PasswordHash != "" && !strings.HasPrefix(o.PasswordHash, "$") {
		return cli.Usagef("--password-hash is not a crypt(3) hash (they start with $): make one with `openssl passwd -6`")
	}
	if o.UploadCerts && o.Role != "control-plane" {
		return cli.Usagef("--upload-certs is for --role control-plane")
	}
	if o.UploadCerts && o.UploadImage == "" {
		return cli.Usagef("--upload-certs-image must not be empty: any image will do, it runs the node's own kubeadm")
	}
	if strings.ContainsAny(o.NetInterface, " \n\"'/") {
		return cli.Usagef("invalid --net-interface %q", o.NetInterface)
	}
	if len(o.extras) > 0 {
		// Fail before a token exists: nothing to undo.
		if _, err := ignition.Build(ignition.Node{}, o.IgnitionVersion, o.extras...); err != nil {
			return cli.Usage(fmt.Errorf("extra Ignition: %w", err))
		}
	}
	if o.Role == "control-plane" && o.cfg.VirtualIP != "" && o.NetInterface == "" {
		return cli.Usagef("a control plane behind virtualIp %s needs the interface keepalived holds it on: set providers.byo.networkInterface or --net-interface", o.cfg.VirtualIP)
	}
	if o.OutputFile != "" {
		if fi, err := os.Stat(filepath.Dir(o.OutputFile)); err != nil || !fi.IsDir() {
			return cli.Usagef("--output-file %s: its directory does not exist", o.OutputFile)
		}
	}
	if err := o.Print.Validate(); err != nil {
		return err
	}
	if o.Print.JSON() && o.OutputFile == "" && o.publish.Backend == "" {
		return cli.Usagef("-o json needs --output-file or --publish: standard output would hold both the Ignition config and the JSON")
	}
	return nil
}

// joinResult is what join's -o json prints.
type joinResult struct {
	File    string    `json:"file,omitempty"`
	URL     string    `json:"url,omitempty"` // with --publish
	TokenID string    `json:"tokenId"`
	Expires time.Time `json:"expires,omitzero"`
}

// Run reads the cluster, plans the join, creates the token (unless
// --token-only-print), writes or publishes the config, and on any failure
// after the token was created removes what it created.
func (o *IgnitionJoinOptions) Run(ctx context.Context) (err error) {
	logw := io.Discard
	if o.Verbose > 0 {
		logw = o.ErrOut
	}
	if err := o.clients.Reachable(); err != nil {
		return noClusterError(err)
	}
	cluster, err := join.Read(ctx, o.clients.Kube, o.clients.Config, o.APIServer)
	if err != nil {
		return err
	}
	plan, err := join.NewPlan(cluster, join.Request{
		Node: o.node(), ControlPlane: o.Role == "control-plane", TTL: o.TTL,
		CreateToken: !o.TokenOnlyPrint, UploadCerts: o.UploadCerts, UploadImage: o.UploadImage,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(logw, "Cluster %s (Kubernetes %s, endpoint and CA from %s), kubeadm %s\n", cluster.Endpoint, cluster.Version, cluster.Source, plan.KubeadmAPIVersion)

	var pub join.Publisher
	if o.publish.Backend != "" {
		// Before the token exists: an unknown backend or a bad option
		// must not leave a token behind.
		o.publish.ConfigFile, o.publish.Verbose = o.ConfigFile, o.Verbose
		if o.publish.Backend == "cluster" {
			o.publish.Opts = withKubeDefaults(o.publish.Opts, o.kube)
		}
		host, err := o.publish.openWith(ctx, o.ErrOut, o.cfg)
		if err != nil {
			return err
		}
		defer host.Close()
		pub = host
	}
	done, err := plan.Commit(ctx, o.clients.Kube, pub, logw)
	if err != nil {
		return hostingError(err)
	}
	defer func() {
		if err != nil {
			if rerr := done.Rollback(context.WithoutCancel(ctx)); rerr != nil {
				fmt.Fprintf(o.ErrOut, "warning: %v\n", rerr)
			}
		}
	}()
	// With --publish, the file is written only when --output-file asks for it.
	if pub == nil || o.OutputFile != "" {
		if err := o.write(plan.Config); err != nil {
			return err
		}
	}
	res := joinResult{File: o.OutputFile, URL: done.Published.URL, TokenID: plan.Token.ID, Expires: plan.Token.Expires}
	err = o.Print.Print(o.Out, res, func(w io.Writer) error {
		if res.URL == "" {
			return nil // the config itself went to the file or standard output
		}
		// The URL nodes boot with: ignition.config.url.
		_, err := fmt.Fprintln(w, res.URL)
		return err
	})
	if err != nil {
		return err
	}
	if o.TokenOnlyPrint {
		fmt.Fprintf(o.ErrOut, "Create the join token on a control-plane node with:\n  %s\n", plan.Token.CreateCommand(o.TTL))
	}
	if o.Role == "control-plane" && !o.UploadCerts {
		fmt.Fprintf(o.ErrOut, "Upload the certificates on a control-plane node with:\n  %s\n", certupload.Command(plan.CertKey))
	}
	return nil
}

// node is what the config of every node holds, whatever its role: the
// flags and the files, as Complete and Validate left them.
func (o *IgnitionJoinOptions) node() join.Node {
	return join.Node{
		Config: o.cfg, IgnitionVersion: o.IgnitionVersion, NetInterface: o.NetInterface,
		Update: o.update, ContainerRegistry: o.Registry, Extras: o.extras,
		User: ignition.User{SSHKeys: o.sshKeys, PasswordHash: o.PasswordHash},
	}
}

func (o *IgnitionJoinOptions) write(data []byte) error {
	if o.OutputFile == "" {
		_, err := o.Out.Write(append(data, '\n'))
		return err
	}
	if err := ignition.WriteFile(o.OutputFile, data); err != nil {
		return explain(err)
	}
	return nil
}

func orDefault(v, d string) string {
	if v != "" {
		return v
	}
	return d
}

// withKubeDefaults points the cluster backend at the cluster join talks to
// (--kubeconfig, --context, -n), unless --publish-opt says otherwise.
func withKubeDefaults(opts []string, kube *genericclioptions.ConfigFlags) []string {
	set := func(key string, v *string) {
		if v == nil || *v == "" || slices.ContainsFunc(opts, func(o string) bool { return strings.HasPrefix(o, key+"=") }) {
			return
		}
		opts = append(opts, key+"="+*v)
	}
	set("kubeconfig", kube.KubeConfig)
	set("context", kube.Context)
	set("namespace", kube.Namespace)
	return opts
}
