package cmd

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/atomicfile"
	"github.com/ocne-image/ocne-image/shared/certupload"
	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/clusterpki"
	"github.com/ocne-image/ocne-image/shared/ignition"
	"github.com/ocne-image/ocne-image/shared/join"
	"github.com/ocne-image/ocne-image/shared/jointoken"
	"github.com/ocne-image/ocne-image/shared/kubeadm"
	"github.com/ocne-image/ocne-image/shared/ock"
	"github.com/ocne-image/ocne-image/shared/pluginhost"
)

const ignitionInitExample = `  # The first control-plane node of a new cluster behind a virtual IP
  cat > mycluster.yaml <<EOF
  name: mycluster
  kubernetesVersion: "1.33"
  virtualIp: 192.168.1.100
  providers:
    byo:
      networkInterface: enp1s0
  EOF
  kubectl ocne-image ignition init -c mycluster.yaml --output-file cp1.ign
  export KUBECONFIG=~/.kube/kubeconfig.mycluster   # works once cp1 is up

  # ... and its first three workers' configs at once, before any node exists
  kubectl ocne-image ignition init -c mycluster.yaml --output-file cp1.ign --workers 3 --workers-dir workers/`

// IgnitionInitOptions are the inputs of `ignition init`.
type IgnitionInitOptions struct {
	// node holds the settings every node's config takes (the join
	// command's), read the same way.
	node            *IgnitionJoinOptions
	PKIDir          string
	AdminKubeconfig string
	Workers         int
	WorkersDir      string
	KubeadmAddons   bool
	Version         string

	name    string
	release ock.Release
	// endpoint is host:port of the virtual IP or load balancer.
	endpoint string
}

// newCmdIgnitionInit returns the `ignition init` command.
func newCmdIgnitionInit(streams genericiooptions.IOStreams) (*cobra.Command, *IgnitionInitOptions) {
	n := &IgnitionJoinOptions{IOStreams: streams, Role: "control-plane", TTL: 24 * time.Hour, Print: cli.NewPrintFlags()}
	o := &IgnitionInitOptions{node: n}
	c := &cobra.Command{
		Use:   "init -c CLUSTER-CONFIG [--output-file FILE] [--workers N --workers-dir DIR] [flags]",
		Short: "Start a cluster: the CA, the first control-plane node's Ignition and an admin kubeconfig",
		Long: `Make a bring-your-own cluster from nothing, as ocne cluster start --provider byo
does: no cluster and no kubeconfig context is needed.

From the cluster configuration file (name, kubernetesVersion, virtualIp or
loadBalancer, providers.byo.networkInterface, podSubnet, serviceSubnet,
kubeApiServerBindPort(Alt), proxy, osRegistry, osTag, registry,
cipherSuites, workerNodes, extraIgnition, ... as ignition join reads them):

- the cluster CA in --pki-dir (default ~/.ocne/clusters/NAME/pki; 0600,
  never printed; an existing CA there is used, so init can run again);
  kubeadm on the first node derives every other certificate from it;
- the first control-plane node's Ignition (spec ` + ignition.DefaultVersion + `): kubeadm's
  InitConfiguration and ClusterConfiguration, the CA under
  /etc/kubernetes/pki, ACTION=init and a certificate key, under which the
  node uploads the control-plane certificates, so further control planes
  join with ignition join --role control-plane; behind virtualIp also
  keepalived and nginx. Without workers the control plane is not tainted;
- an admin kubeconfig (0600, default ~/.kube/kubeconfig.NAME) for the
  endpoint, which ignition join, create and serve then use;
- with --workers N, the first N workers' configs (worker-1.ign ...): their
  tokens are created by kubeadm init itself, so they join once the
  cluster is up.

As ocne does, kubeadm leaves kube-proxy and CoreDNS out (ocne installs
them as applications); --kubeadm-addons lets kubeadm install them. A CNI
is yours to install either way.

The files hold secrets: the CA key (first node), tokens (workers).`,
		Example: ignitionInitExample,
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
	f.StringVarP(&n.ConfigFile, "config", "c", "", "cluster configuration file (required)")
	n.Print.AddFileFlag(c, &n.OutputFile, "file to write the first node's Ignition config to, mode 0600 (default: standard output)", "ign", "json")
	f.StringVar(&o.PKIDir, "pki-dir", "", "directory of the cluster CA (ca.crt, ca.key), made if absent (default ~/.ocne/clusters/NAME/pki)")
	f.StringVar(&o.AdminKubeconfig, "admin-kubeconfig", "", "admin kubeconfig to write, mode 0600 (default ~/.kube/kubeconfig.NAME)")
	f.IntVar(&o.Workers, "workers", 0, "also write the configs of this many workers (default: config workerNodes)")
	f.StringVar(&o.WorkersDir, "workers-dir", "", "directory for worker-N.ign (default: the --output-file's, else the current one; with --publish, none)")
	f.DurationVar(&n.TTL, "ttl", 24*time.Hour, "how long the workers' join tokens work after the cluster starts; 0 never expires")
	f.BoolVar(&o.KubeadmAddons, "kubeadm-addons", false, "let kubeadm install kube-proxy and CoreDNS (ocne skips them and installs its own)")
	f.StringVar(&o.Version, "version", "", "Kubernetes minor version (config kubernetesVersion; default "+ock.DefaultVersion()+")")
	n.addNodeFlags(c)
	n.publish.addPublish(c)
	// No cluster is talked to; the loader still wants the flags' home.
	n.kube = genericclioptions.NewConfigFlags(false)
	c.RegisterFlagCompletionFunc("version", cli.FixedCompletion(ock.Versions...))
	c.MarkFlagFilename("config", "yaml", "yml")
	c.MarkFlagDirname("pki-dir")
	c.MarkFlagDirname("workers-dir")
	return c, o
}

// Complete reads the files and fills what the flags left unset from
// them.
func (o *IgnitionInitOptions) Complete(c *cobra.Command) error {
	n := o.node
	if n.ConfigFile == "" {
		return cli.Usagef("--config is required: the cluster configuration file (name, virtualIp or loadBalancer, ...); see '%s --help'", c.CommandPath())
	}
	if err := n.completeNode(c); err != nil {
		return err
	}
	// A join option that means nothing here.
	n.UploadCerts, n.TokenOnlyPrint = false, false
	cfg := n.cfg
	if !c.Flags().Changed("version") {
		o.Version = orDefault(cfg.Version(), ock.DefaultVersion())
	}
	if !c.Flags().Changed("workers") {
		o.Workers = cfg.WorkerNodes
	}
	o.name = cfg.Name
	o.endpoint = net.JoinHostPort(orDefault(cfg.VirtualIP, cfg.LoadBalancer), strconv.Itoa(cfg.BindPort()))
	home, err := os.UserHomeDir()
	if err != nil && (o.PKIDir == "" || o.AdminKubeconfig == "") {
		return fmt.Errorf("find the home directory: %w", err)
	}
	if o.PKIDir == "" {
		o.PKIDir = filepath.Join(home, ".ocne", "clusters", o.name, "pki")
	}
	if o.AdminKubeconfig == "" {
		o.AdminKubeconfig = filepath.Join(home, ".kube", "kubeconfig."+o.name)
	}
	// With --publish, files only where asked for, as with --output-file.
	if o.WorkersDir == "" && o.Workers > 0 && n.publish.Backend == "" {
		o.WorkersDir = "."
		if n.OutputFile != "" {
			o.WorkersDir = filepath.Dir(n.OutputFile)
		}
	}
	return nil
}

// Validate checks everything before anything is written.
func (o *IgnitionInitOptions) Validate() error {
	n := o.node
	if err := n.Validate(); err != nil {
		return err
	}
	cfg := n.cfg
	switch {
	case cfg.VirtualIP == "" && cfg.LoadBalancer == "":
		return cli.Usagef("%s: a cluster needs virtualIp or loadBalancer: the address every node reaches the API servers at", configName(n.ConfigFile))
	case cfg.Name == "":
		return cli.Usagef("%s: name the cluster (name: ...)", configName(n.ConfigFile))
	}
	var err error
	if o.release, err = ock.ReleaseOf(o.Version); err != nil {
		return cli.Usage(err)
	}
	if o.Workers < 0 || cfg.WorkerNodes < 0 {
		return cli.Usagef("--workers %d: want a count of workers, 0 or more", o.Workers)
	}
	if !validName(o.name) {
		return cli.Usagef("invalid cluster name %q: use lower-case letters, digits and '-'", o.name)
	}
	if _, err := os.Lstat(o.AdminKubeconfig); err == nil {
		return cli.Usagef("%s exists: the cluster's admin kubeconfig was written before; move it away, or pass --admin-kubeconfig", o.AdminKubeconfig)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return cli.Usagef("--admin-kubeconfig: %v", err)
	}
	return nil
}

// validName: the name goes into file names and a kubeconfig context.
func validName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return s != "" && len(s) <= 63
}

// Run makes the CA (unless it exists), the configs and the kubeconfig.
// On a failure, what this run wrote is removed: a CA it made, the files.
func (o *IgnitionInitOptions) Run(ctx context.Context) (err error) {
	n := o.node
	logw := io.Discard
	if n.Verbose > 0 {
		logw = n.ErrOut
	}
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
		}
	}()
	ci := n.cfg.CertificateInformation
	ca, created, err := clusterpki.LoadOrCreate(o.PKIDir, clusterpki.Subject{
		// ocne's defaults
		Country: orDefault(ci.Country, "US"), Org: orDefault(ci.Org, "OCNE"),
		OrgUnit: orDefault(ci.OrgUnit, "OCNE"), State: orDefault(ci.State, "TX"),
	})
	if err != nil {
		return err
	}
	if created {
		// Removed in this order on a failure: the directory goes if empty.
		written = append(written, filepath.Join(o.PKIDir, clusterpki.CertFile), filepath.Join(o.PKIDir, clusterpki.KeyFile), o.PKIDir)
		fmt.Fprintf(logw, "Made the cluster CA in %s\n", o.PKIDir)
	} else {
		fmt.Fprintf(logw, "Using the cluster CA in %s\n", o.PKIDir)
	}
	apiVersion, err := kubeadm.APIVersionFor(o.release.Kubernetes)
	if err != nil {
		return err
	}
	caHashes := jointoken.Cluster{CAs: []*x509.Certificate{ca.Cert}}.CAHashes()
	minor, _ := ock.MinorVersion(o.release.Kubernetes)

	var tokens []jointoken.Token
	var workers [][]byte
	for i := range o.Workers {
		tok, err := jointoken.New(n.TTL)
		if err != nil {
			return err
		}
		w, err := n.node().JoinConfig(join.Spec{APIVersion: apiVersion, Endpoint: o.endpoint, CAHashes: caHashes, Token: tok.String(), KubeMinor: minor})
		if err != nil {
			return fmt.Errorf("worker %d: %w", i+1, err)
		}
		tokens, workers = append(tokens, tok), append(workers, w)
	}
	first, err := o.firstNode(ca, apiVersion, minor, tokens)
	if err != nil {
		return err
	}
	kubeconfig, err := ca.AdminKubeconfig(o.name, "https://"+o.endpoint, o.release.Kubernetes)
	if err != nil {
		return err
	}

	var host *pluginhost.Backend
	if n.publish.Backend != "" {
		n.publish.ConfigFile, n.publish.Verbose = n.ConfigFile, n.Verbose
		if host, err = n.publish.openWith(ctx, n.ErrOut, n.cfg); err != nil {
			return err
		}
		defer host.Close()
	}
	var published []string
	defer func() {
		if err != nil {
			for _, name := range published {
				host.Unpublish(context.WithoutCancel(ctx), name)
			}
		}
	}()
	res := initResult{PKIDir: o.PKIDir, AdminKubeconfig: o.AdminKubeconfig}
	emit := func(what, path string, data []byte) error {
		res.Nodes = append(res.Nodes, initNode{Name: what, File: path})
		if host != nil {
			e, err := host.Publish(ctx, data, pluginhost.Publication{})
			if err != nil {
				return hostingError(err)
			}
			published = append(published, e.Name)
			res.Nodes[len(res.Nodes)-1].URL = e.URL
			if !n.Print.JSON() {
				fmt.Fprintf(n.Out, "%s\t%s\n", what, e.URL)
			}
			if path == "" {
				return nil
			}
		}
		if path == "" {
			_, err := n.Out.Write(append(data, '\n'))
			return err
		}
		if err := ignition.WriteFile(path, data); err != nil {
			return explain(err)
		}
		written = append(written, path)
		return nil
	}
	if err := emit("control-plane-1", n.OutputFile, first); err != nil {
		return err
	}
	for i, w := range workers {
		path := ""
		if host == nil || o.WorkersDir != "" {
			path = filepath.Join(o.WorkersDir, fmt.Sprintf("worker-%d.ign", i+1))
		}
		if err := emit(fmt.Sprintf("worker-%d", i+1), path, w); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(o.AdminKubeconfig), 0o700); err != nil {
		return fmt.Errorf("--admin-kubeconfig: %w", err)
	}
	if err := atomicfile.Write(o.AdminKubeconfig, kubeconfig, 0o600); err != nil {
		return fmt.Errorf("--admin-kubeconfig: %w", err)
	}
	written = append(written, o.AdminKubeconfig)
	// As text, each published config's URL was printed as it went.
	if err := n.Print.Print(n.Out, res, func(io.Writer) error { return nil }); err != nil {
		return err
	}
	fmt.Fprintf(n.ErrOut, "Once the first node is up: export KUBECONFIG=%s\n", o.AdminKubeconfig)
	return nil
}

// initResult is what init's -o json prints.
type initResult struct {
	Nodes           []initNode `json:"nodes"`
	PKIDir          string     `json:"pkiDir"`
	AdminKubeconfig string     `json:"adminKubeconfig"`
}

// initNode is one node's config: its file, its URL with --publish.
type initNode struct {
	Name string `json:"name"`
	File string `json:"file,omitempty"`
	URL  string `json:"url,omitempty"`
}

// firstNode is the first control-plane node's Ignition.
func (o *IgnitionInitOptions) firstNode(ca *clusterpki.CA, apiVersion, minor string, tokens []jointoken.Token) ([]byte, error) {
	n := o.node
	certKey, err := certupload.NewKey()
	if err != nil {
		return nil, err
	}
	init := kubeadm.Init{
		APIVersion: apiVersion, CertificateKey: certKey, BindPort: int32(n.cfg.BindPort()),
		ControlPlaneEndpoint: o.endpoint, KubernetesVersion: o.release.Kubernetes,
		ImageRepository: n.Registry + "/olcne", EtcdTag: o.release.Etcd, CoreDNSTag: o.release.CoreDNS,
		PodSubnet:     orDefault(n.cfg.PodSubnet, "10.244.0.0/16"),
		ServiceSubnet: orDefault(n.cfg.ServiceSubnet, "10.96.0.0/12"),
		CipherSuites:  strings.Join(n.cfg.CipherSuiteList(), ","), KubeletArgs: n.node().KubeletArgs(),
		Untainted: o.Workers == 0, SkipAddons: !o.KubeadmAddons, KubeProxyMode: n.cfg.KubeProxyMode,
	}
	for _, t := range tokens {
		init.BootstrapTokens = append(init.BootstrapTokens, kubeadm.BootstrapToken{Token: t.String(), TTL: n.TTL, Group: jointoken.DefaultGroup, Description: jointoken.Description})
	}
	node := n.node().Base(o.endpoint, minor)
	if n.cfg.VirtualIP != "" {
		init.BindPort = int32(n.cfg.BindPortAlt())
		node.VirtualIP = &ignition.VirtualIP{Address: n.cfg.VirtualIP, Port: n.cfg.BindPort(), AltPort: n.cfg.BindPortAlt()}
	}
	if node.KubeadmConfig, err = init.Marshal(); err != nil {
		return nil, err
	}
	node.Action = ignition.ActionInit
	node.Files = []ignition.File{
		{Path: "/etc/kubernetes/pki/" + clusterpki.CertFile, Mode: 0o600, Data: ca.CertPEM},
		{Path: "/etc/kubernetes/pki/" + clusterpki.KeyFile, Mode: 0o600, Data: ca.KeyPEM},
	}
	return ignition.Build(node, n.IgnitionVersion, n.extras...)
}
