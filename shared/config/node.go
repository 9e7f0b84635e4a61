package config

// Node holds the keys of OCNE's cluster configuration that shape the
// Ignition of a node joining the cluster (`ignition join`).
type Node struct {
	// Registry is the container registry for unqualified image names.
	Registry            string    `yaml:"registry,omitempty"`
	Password            string    `yaml:"password,omitempty"` // a crypt(3) hash
	SSHPublicKey        string    `yaml:"sshPublicKey,omitempty"`
	SSHPublicKeyPath    string    `yaml:"sshPublicKeyPath,omitempty"`
	PodSubnet           string    `yaml:"podSubnet,omitempty"`
	ServiceSubnet       string    `yaml:"serviceSubnet,omitempty"`
	KubeProxyMode       string    `yaml:"kubeProxyMode,omitempty"`
	KubeAPIServerPort   int32     `yaml:"kubeApiServerBindPort,omitempty"`
	VirtualIP           string    `yaml:"virtualIp,omitempty"`
	LoadBalancer        string    `yaml:"loadBalancer,omitempty"`
	ExtraIgnition       string    `yaml:"extraIgnition,omitempty"`
	ExtraIgnitionInline string    `yaml:"extraIgnitionInline,omitempty"`
	Providers           Providers `yaml:"providers,omitempty"`
}

// Providers holds the per-provider settings; only bring-your-own applies.
type Providers struct {
	BYO struct {
		NetworkInterface string `yaml:"networkInterface,omitempty"`
	} `yaml:"byo,omitempty"`
}

func mergeNode(base, over Node) Node {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
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
	set(&base.ExtraIgnition, over.ExtraIgnition)
	set(&base.ExtraIgnitionInline, over.ExtraIgnitionInline)
	set(&base.Providers.BYO.NetworkInterface, over.Providers.BYO.NetworkInterface)
	if over.KubeAPIServerPort != 0 {
		base.KubeAPIServerPort = over.KubeAPIServerPort
	}
	return base
}
