package join

import (
	"cmp"
	"net"
	"strings"

	"github.com/ocne-image/ocne-image/shared/config"
	"github.com/ocne-image/ocne-image/shared/ignition"
	"github.com/ocne-image/ocne-image/shared/kubeadm"
)

// Node is what every node's Ignition config holds whatever its role and
// cluster, from the flags and the configuration files. `ignition init`
// renders its nodes with it too.
type Node struct {
	// Config holds the files' cluster keys the config takes: proxy,
	// subnets, bind ports, virtualIp, cipherSuites, kubeProxyMode.
	Config          config.Config
	IgnitionVersion string
	NetInterface    string
	// Update is where the node updates from; an empty Tag is the
	// cluster's minor version.
	Update            ignition.Update
	ContainerRegistry string
	User              ignition.User
	// Extras are merged last, in order.
	Extras []ignition.Extra
}

// Spec is what a join config takes from the cluster it joins.
type Spec struct {
	APIVersion string   // kubeadm's
	Endpoint   string   // host:port of the API server
	CAHashes   []string // sha256:<hex> of the CA keys
	Token      string   // id.secret
	CertKey    string   // control planes: the uploaded certificates' key
	KubeMinor  string   // the cluster's minor version, the default OS tag
}

// JoinConfig is the Ignition config of a node joining the cluster s
// describes, as ocne's byo driver writes it: a control plane if s has a
// certificate key.
func (n Node) JoinConfig(s Spec) ([]byte, error) {
	join := kubeadm.Join{
		APIVersion: s.APIVersion, APIServerEndpoint: s.Endpoint, Token: s.Token,
		CACertHashes: s.CAHashes, KubeletArgs: n.KubeletArgs(),
	}
	node := n.Base(s.Endpoint, s.KubeMinor)
	if s.CertKey != "" {
		port := n.Config.BindPort()
		if n.Config.VirtualIP != "" {
			// nginx serves the bind port on the virtual IP.
			port = n.Config.BindPortAlt()
			node.VirtualIP = &ignition.VirtualIP{Address: n.Config.VirtualIP, Port: n.Config.BindPort(), AltPort: port}
		}
		join.ControlPlane = &kubeadm.ControlPlane{BindPort: int32(port), CertificateKey: s.CertKey, KubeProxyMode: n.Config.KubeProxyMode}
	}
	var err error
	if node.KubeadmConfig, err = join.Marshal(); err != nil {
		return nil, err
	}
	return ignition.Build(node, n.IgnitionVersion, n.Extras...)
}

// KubeletArgs are every node's kubelet flags.
func (n Node) KubeletArgs() map[string]string {
	args := kubeadm.DefaultKubeletArgs()
	if cs := n.Config.CipherSuiteList(); len(cs) > 0 {
		args["tls-cipher-suites"] = strings.Join(cs, ",")
	}
	return args
}

// Base is what every node's config holds whatever its role: updates,
// registries, the ocne user and the proxy; endpoint is the API server's
// host:port, kubeMinor the default OS tag.
func (n Node) Base(endpoint, kubeMinor string) ignition.Node {
	update := n.Update
	if update.Tag == "" {
		update.Tag = kubeMinor
	}
	node := ignition.Node{
		PatchesDir: kubeadm.PatchesDir, NetInterface: n.NetInterface, Update: update,
		ContainerRegistry: n.ContainerRegistry, User: n.User,
	}
	if p := n.Config.Proxy; p.HTTPProxy != "" || p.HTTPSProxy != "" {
		host, _, _ := net.SplitHostPort(endpoint)
		node.Proxy = ignition.Proxy{HTTPProxy: p.HTTPProxy, HTTPSProxy: p.HTTPSProxy,
			NoProxy: ignition.NoProxyList(p.NoProxy, host,
				cmp.Or(n.Config.ServiceSubnet, config.DefaultServiceSubnet), cmp.Or(n.Config.PodSubnet, config.DefaultPodSubnet))}
	}
	return node
}
