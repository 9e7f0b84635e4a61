package config

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
)

// Node holds the keys of OCNE's cluster configuration that shape the
// Ignition of a node joining the cluster (`ignition join`), with ocne's
// spellings and meanings (oracle-cne/ocne pkg/config/types).
type Node struct {
	// Name is the cluster's (ocne's cluster config `name`).
	Name string `yaml:"name,omitempty"`
	// WorkerNodes is how many workers the cluster is to have: with none,
	// the first control plane runs pods (no taint).
	WorkerNodes int `yaml:"workerNodes,omitempty"`
	// Registry is the container registry for unqualified image names.
	Registry         string `yaml:"registry,omitempty"`
	Password         string `yaml:"password,omitempty"` // a crypt(3) hash
	SSHPublicKey     string `yaml:"sshPublicKey,omitempty"`
	SSHPublicKeyPath string `yaml:"sshPublicKeyPath,omitempty"`
	PodSubnet        string `yaml:"podSubnet,omitempty"`
	ServiceSubnet    string `yaml:"serviceSubnet,omitempty"`
	KubeProxyMode    string `yaml:"kubeProxyMode,omitempty"`
	// KubeAPIServerBindPort is the port nodes reach the API server at
	// (the load balancer's or the virtual IP's).
	KubeAPIServerBindPort int `yaml:"kubeApiServerBindPort,omitempty"`
	// KubeAPIServerBindPortAlt is where the API server of a control-plane
	// node behind a virtual IP binds: the node's nginx serves
	// KubeAPIServerBindPort and forwards to it.
	KubeAPIServerBindPortAlt int    `yaml:"kubeApiServerBindPortAlt,omitempty"`
	VirtualIP                string `yaml:"virtualIp,omitempty"`
	LoadBalancer             string `yaml:"loadBalancer,omitempty"`
	// CipherSuites is a comma-separated list of TLS cipher suites (Go's
	// names) for the kubelet.
	CipherSuites string `yaml:"cipherSuites,omitempty"`
	// ExtraIgnition is an Ignition or Butane file, or a directory of
	// them, merged into the node's config; relative to Directory.
	ExtraIgnition       string `yaml:"extraIgnition,omitempty"`
	ExtraIgnitionInline string `yaml:"extraIgnitionInline,omitempty"`
	// Directory is what relative paths in the cluster config are relative
	// to; ocne's default, and ours, is the file's own directory.
	Directory string    `yaml:"directory,omitempty"`
	Providers Providers `yaml:"providers,omitempty"`
	// CertificateInformation is the subject of a new cluster's CA.
	CertificateInformation CertificateInformation `yaml:"certificateInformation,omitempty"`
}

// CertificateInformation is ocne's `certificateInformation:` section.
type CertificateInformation struct {
	Country string `yaml:"country,omitempty"`
	Org     string `yaml:"org,omitempty"`
	OrgUnit string `yaml:"orgUnit,omitempty"`
	State   string `yaml:"state,omitempty"`
}

// Providers holds the per-provider settings; only bring-your-own applies.
type Providers struct {
	BYO BYO `yaml:"byo,omitempty"`
}

// BYO is the bring-your-own provider's section.
type BYO struct {
	NetworkInterface string `yaml:"networkInterface,omitempty"`
	// AutomaticTokenCreation: false (ocne's default) prints the command
	// that creates the join token instead of creating it; nil is unset.
	AutomaticTokenCreation *bool `yaml:"automaticTokenCreation,omitempty"`
}

// Defaults ocne applies to the node keys.
const (
	DefaultKubeAPIServerBindPort    = 6443
	DefaultKubeAPIServerBindPortAlt = 6444
	DefaultPodSubnet                = "10.244.0.0/16"
	DefaultServiceSubnet            = "10.96.0.0/12"
)

// KubeProxyModes are the modes kube-proxy runs in.
var KubeProxyModes = []string{"iptables", "ipvs", "nftables"}

// BindPort is KubeAPIServerBindPort or its default.
func (n Node) BindPort() int { return orInt(n.KubeAPIServerBindPort, DefaultKubeAPIServerBindPort) }

// BindPortAlt is KubeAPIServerBindPortAlt or its default.
func (n Node) BindPortAlt() int {
	return orInt(n.KubeAPIServerBindPortAlt, DefaultKubeAPIServerBindPortAlt)
}

func orInt(v, d int) int {
	if v != 0 {
		return v
	}
	return d
}

// CipherSuiteList splits CipherSuites.
func (n Node) CipherSuiteList() []string {
	var out []string
	for _, s := range strings.Split(n.CipherSuites, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Validate checks the node keys a join config is built from, so a bad
// value is refused here instead of failing on the node at first boot.
func (n Node) Validate() error {
	for _, p := range []struct {
		key string
		v   int
	}{{"kubeApiServerBindPort", n.KubeAPIServerBindPort}, {"kubeApiServerBindPortAlt", n.KubeAPIServerBindPortAlt}} {
		if p.v < 0 || p.v > 65535 {
			return fmt.Errorf("%s %d is not a port: use 1-65535", p.key, p.v)
		}
	}
	if n.VirtualIP != "" && n.BindPort() == n.BindPortAlt() {
		return fmt.Errorf("kubeApiServerBindPort and kubeApiServerBindPortAlt are both %d: behind a virtualIp the API server binds the Alt port and nginx the other", n.BindPort())
	}
	if n.VirtualIP != "" {
		if _, err := netip.ParseAddr(n.VirtualIP); err != nil {
			return fmt.Errorf("virtualIp %q is not an IP address", n.VirtualIP)
		}
		if n.LoadBalancer != "" {
			return fmt.Errorf("virtualIp and loadBalancer are both set: use one (a virtual IP that the control-plane nodes hold, or an external load balancer)")
		}
	}
	if strings.ContainsAny(n.LoadBalancer, " \t\n/\"'") {
		return fmt.Errorf("loadBalancer %q is not a host name or address", n.LoadBalancer)
	}
	for _, s := range []struct{ key, v string }{{"podSubnet", n.PodSubnet}, {"serviceSubnet", n.ServiceSubnet}} {
		if s.v == "" {
			continue
		}
		// Dual-stack clusters list an IPv4 and an IPv6 subnet.
		for _, p := range strings.Split(s.v, ",") {
			if _, err := netip.ParsePrefix(strings.TrimSpace(p)); err != nil {
				return fmt.Errorf("%s %q is not a CIDR such as 10.244.0.0/16", s.key, s.v)
			}
		}
	}
	if err := subnetsApart(orString(n.PodSubnet, DefaultPodSubnet), orString(n.ServiceSubnet, DefaultServiceSubnet)); err != nil {
		return err
	}
	if n.KubeProxyMode != "" && !slices.Contains(KubeProxyModes, n.KubeProxyMode) {
		return fmt.Errorf("kubeProxyMode %q: use one of %s", n.KubeProxyMode, strings.Join(KubeProxyModes, ", "))
	}
	known := knownCipherSuites()
	for _, s := range n.CipherSuiteList() {
		if !known[s] {
			return fmt.Errorf("cipherSuites: %q is not a TLS cipher suite the kubelet knows (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", s)
		}
	}
	return nil
}

// subnetsApart refuses pod and service subnets that overlap: kube-proxy
// would route pod addresses to services.
func subnetsApart(pods, services string) error {
	for _, p := range strings.Split(pods, ",") {
		pp, err := netip.ParsePrefix(strings.TrimSpace(p))
		if err != nil {
			continue // reported above
		}
		for _, sv := range strings.Split(services, ",") {
			sp, err := netip.ParsePrefix(strings.TrimSpace(sv))
			if err == nil && pp.Overlaps(sp) {
				return fmt.Errorf("podSubnet %s overlaps serviceSubnet %s: give them separate ranges", pp, sp)
			}
		}
	}
	return nil
}

func orString(v, d string) string {
	if v != "" {
		return v
	}
	return d
}

// knownCipherSuites are the names the kubelet's --tls-cipher-suites
// takes: Go's, which the Kubernetes components use.
func knownCipherSuites() map[string]bool {
	m := map[string]bool{}
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		m[s.Name] = true
	}
	return m
}

// resolvePaths makes the relative paths of a file's node keys relative to
// its directory (or its `directory:` key), as ocne reads them; file is
// the path of the configuration file.
func (n *Node) resolvePaths(file string) error {
	base := n.Directory
	if base == "" {
		base = filepath.Dir(file)
	} else if !filepath.IsAbs(base) {
		base = filepath.Join(filepath.Dir(file), base)
	}
	abs, err := filepath.Abs(base)
	if err != nil {
		return fmt.Errorf("config %s: directory %q: %w", file, base, err)
	}
	if n.ExtraIgnition != "" && !filepath.IsAbs(n.ExtraIgnition) {
		n.ExtraIgnition = filepath.Join(abs, n.ExtraIgnition)
	}
	return nil
}

func mergeNode(base, over Node) Node {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&base.Name, over.Name)
	if over.WorkerNodes != 0 {
		base.WorkerNodes = over.WorkerNodes
	}
	set(&base.Registry, over.Registry)
	set(&base.Password, over.Password)
	set(&base.SSHPublicKey, over.SSHPublicKey)
	set(&base.SSHPublicKeyPath, over.SSHPublicKeyPath)
	set(&base.PodSubnet, over.PodSubnet)
	set(&base.ServiceSubnet, over.ServiceSubnet)
	set(&base.KubeProxyMode, over.KubeProxyMode)
	set(&base.VirtualIP, over.VirtualIP)
	set(&base.LoadBalancer, over.LoadBalancer)
	set(&base.CipherSuites, over.CipherSuites)
	set(&base.ExtraIgnition, over.ExtraIgnition)
	set(&base.ExtraIgnitionInline, over.ExtraIgnitionInline)
	set(&base.Directory, over.Directory)
	set(&base.Providers.BYO.NetworkInterface, over.Providers.BYO.NetworkInterface)
	ci, oc := &base.CertificateInformation, over.CertificateInformation
	set(&ci.Country, oc.Country)
	set(&ci.Org, oc.Org)
	set(&ci.OrgUnit, oc.OrgUnit)
	set(&ci.State, oc.State)
	if over.Providers.BYO.AutomaticTokenCreation != nil {
		base.Providers.BYO.AutomaticTokenCreation = over.Providers.BYO.AutomaticTokenCreation
	}
	if over.KubeAPIServerBindPort != 0 {
		base.KubeAPIServerBindPort = over.KubeAPIServerBindPort
	}
	if over.KubeAPIServerBindPortAlt != 0 {
		base.KubeAPIServerBindPortAlt = over.KubeAPIServerBindPortAlt
	}
	return base
}
