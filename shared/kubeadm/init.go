package kubeadm

import (
	"bytes"
	"fmt"
	"time"

	"sigs.k8s.io/yaml"
)

// Init holds what the first control-plane node's kubeadm init reads: an
// InitConfiguration and a ClusterConfiguration, as ocne's byo driver
// writes them.
type Init struct {
	APIVersion     string // V1Beta3 or V1Beta4
	CertificateKey string // the uploaded certificates' key, for later control planes
	// BindPort is where this node's API server binds: the Alt port behind
	// a virtual IP.
	BindPort int32
	// ControlPlaneEndpoint is host:port of the virtual IP or load balancer.
	ControlPlaneEndpoint string
	KubernetesVersion    string // exact, e.g. 1.33.5: kubeadm picks the images by it
	ImageRepository      string // e.g. container-registry.oracle.com/olcne
	EtcdTag, CoreDNSTag  string
	PodSubnet            string
	ServiceSubnet        string
	CipherSuites         string // comma-separated; "" for the defaults
	KubeletArgs          map[string]string
	// Untainted: no workers are coming, so the control plane runs pods.
	Untainted bool
	// SkipAddons leaves kube-proxy and CoreDNS out, as ocne does: it
	// installs them as applications once the node is up.
	SkipAddons    bool
	KubeProxyMode string
	// BootstrapTokens are created by kubeadm init, so join configs written
	// before the cluster exists work once it does.
	BootstrapTokens []BootstrapToken
}

// BootstrapToken is one token of InitConfiguration.bootstrapTokens.
type BootstrapToken struct {
	Token       string // id.secret
	TTL         time.Duration
	Group       string // the group it authenticates as
	Description string
}

type initConfig struct {
	APIVersion       string           `json:"apiVersion"`
	Kind             string           `json:"kind"`
	BootstrapTokens  []bootstrapToken `json:"bootstrapTokens,omitempty"`
	LocalAPIEndpoint apiEndpoint      `json:"localAPIEndpoint"`
	NodeRegistration initNodeReg      `json:"nodeRegistration"`
	CertificateKey   string           `json:"certificateKey,omitempty"`
	SkipPhases       []string         `json:"skipPhases,omitempty"`
	Patches          *patches         `json:"patches,omitempty"`
}

type bootstrapToken struct {
	Token       string   `json:"token"`
	TTL         string   `json:"ttl"`
	Groups      []string `json:"groups"`
	Usages      []string `json:"usages"`
	Description string   `json:"description,omitempty"`
}

type initNodeReg struct {
	KubeletExtraArgs any `json:"kubeletExtraArgs,omitempty"`
	// An empty list, not absent: absent means kubeadm's control-plane taint.
	Taints *[]string `json:"taints,omitempty"`
}

type clusterConfig struct {
	APIVersion           string     `json:"apiVersion"`
	Kind                 string     `json:"kind"`
	KubernetesVersion    string     `json:"kubernetesVersion"`
	ControlPlaneEndpoint string     `json:"controlPlaneEndpoint"`
	ImageRepository      string     `json:"imageRepository"`
	Networking           networking `json:"networking"`
	Etcd                 etcd       `json:"etcd"`
	DNS                  image      `json:"dns"`
	APIServer            component  `json:"apiServer"`
	ControllerManager    component  `json:"controllerManager"`
	Scheduler            component  `json:"scheduler"`
}

type networking struct {
	PodSubnet     string `json:"podSubnet,omitempty"`
	ServiceSubnet string `json:"serviceSubnet,omitempty"`
}

type image struct {
	ImageRepository string `json:"imageRepository,omitempty"`
	ImageTag        string `json:"imageTag,omitempty"`
}

type etcd struct {
	Local struct {
		image     `json:",inline"`
		ExtraArgs any `json:"extraArgs,omitempty"`
	} `json:"local"`
}

type component struct {
	CertSANs  []string `json:"certSANs,omitempty"`
	ExtraArgs any      `json:"extraArgs,omitempty"`
}

// tlsMinVersion is what ocne requires of every control-plane component.
const tlsMinVersion = "VersionTLS12"

// Marshal renders the configuration kubeadm init --config reads.
func (i Init) Marshal() ([]byte, error) {
	if i.APIVersion != V1Beta3 && i.APIVersion != V1Beta4 {
		return nil, fmt.Errorf("unsupported kubeadm API version %q", i.APIVersion)
	}
	argsOf := func(m map[string]string) any {
		if len(m) == 0 {
			return nil
		}
		if i.APIVersion == V1Beta3 {
			return m
		}
		return sortedArgs(m)
	}
	tls := func(extra map[string]string) map[string]string {
		m := map[string]string{"tls-min-version": tlsMinVersion}
		if i.CipherSuites != "" {
			m["tls-cipher-suites"] = i.CipherSuites
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	ic := initConfig{
		APIVersion: i.APIVersion, Kind: "InitConfiguration",
		LocalAPIEndpoint: apiEndpoint{AdvertiseAddress: NodeIPPlaceholder, BindPort: i.BindPort},
		NodeRegistration: initNodeReg{KubeletExtraArgs: argsOf(tls(i.KubeletArgs))},
		CertificateKey:   i.CertificateKey,
		SkipPhases:       []string{"preflight"},
		Patches:          &patches{Directory: PatchesDir},
	}
	if i.SkipAddons {
		ic.SkipPhases = []string{"addon/kube-proxy", "addon/coredns", "preflight"}
	}
	if i.Untainted {
		ic.NodeRegistration.Taints = &[]string{}
	}
	for _, t := range i.BootstrapTokens {
		ic.BootstrapTokens = append(ic.BootstrapTokens, bootstrapToken{
			Token: t.Token, TTL: t.TTL.String(), Groups: []string{t.Group},
			Usages: []string{"signing", "authentication"}, Description: t.Description,
		})
	}
	cc := clusterConfig{
		APIVersion: i.APIVersion, Kind: "ClusterConfiguration",
		KubernetesVersion: i.KubernetesVersion, ControlPlaneEndpoint: i.ControlPlaneEndpoint,
		ImageRepository:   i.ImageRepository,
		Networking:        networking{PodSubnet: i.PodSubnet, ServiceSubnet: i.ServiceSubnet},
		DNS:               image{ImageRepository: i.ImageRepository, ImageTag: i.CoreDNSTag},
		APIServer:         component{ExtraArgs: argsOf(tls(nil))},
		ControllerManager: component{ExtraArgs: argsOf(tls(nil))},
		Scheduler:         component{ExtraArgs: argsOf(tls(nil))},
	}
	cc.Etcd.Local.image = image{ImageRepository: i.ImageRepository, ImageTag: i.EtcdTag}
	etcdArgs := map[string]string{"listen-metrics-urls": "http://0.0.0.0:2381"}
	if i.CipherSuites != "" {
		etcdArgs["cipher-suites"] = i.CipherSuites
	}
	cc.Etcd.Local.ExtraArgs = argsOf(etcdArgs)

	docs := [][]byte{}
	for _, d := range []any{ic, cc} {
		b, err := yaml.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("encode kubeadm init configuration: %w", err)
		}
		docs = append(docs, b)
	}
	if !i.SkipAddons {
		kp, err := kubeProxyDoc(i.KubeProxyMode)
		if err != nil {
			return nil, err
		}
		docs = append(docs, kp)
	}
	return bytes.Join(docs, []byte("---\n")), nil
}
