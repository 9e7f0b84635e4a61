// Package kubeadm writes the kubeadm configuration an OCK node joins a
// cluster with. Only the fields the node needs are modelled; the real
// kubeadm validates the result in the tests.
package kubeadm

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

// NodeIPPlaceholder is what the node's boot script (ocne.service) replaces with the
// address of its network interface before it runs kubeadm join.
const NodeIPPlaceholder = "NODE_IP"

// PatchesDir is where OCK keeps the kubeadm patches of the node.
const PatchesDir = "/etc/ocne/ock/patches"

// The kubeadm API groups: v1beta4 arrived with Kubernetes 1.31, and the
// kubeadm on older OCK images does not read it.
const (
	V1Beta3 = "kubeadm.k8s.io/v1beta3"
	V1Beta4 = "kubeadm.k8s.io/v1beta4"
)

var v1beta4Since = version.MustParseGeneric("1.31.0")

// APIVersionFor picks the JoinConfiguration API version the kubeadm of a
// node of that Kubernetes version (as "v1.34.4" or "1.30") reads.
func APIVersionFor(kubeVersion string) (string, error) {
	v, err := version.ParseGeneric(kubeVersion)
	if err != nil {
		return "", fmt.Errorf("kubeadm API version for Kubernetes %q: %w", kubeVersion, err)
	}
	if v.AtLeast(v1beta4Since) {
		return V1Beta4, nil
	}
	return V1Beta3, nil
}

// Join holds what the join configuration says.
type Join struct {
	APIVersion        string   // V1Beta3 or V1Beta4
	APIServerEndpoint string   // host:port
	Token             string   // id.secret
	CACertHashes      []string // sha256:<hex>
	// KubeletArgs are added to the node's kubelet flags (without "--").
	KubeletArgs map[string]string
	// ControlPlane makes the node a control-plane member.
	ControlPlane *ControlPlane
}

// ControlPlane is the control-plane part of a join.
type ControlPlane struct {
	BindPort       int32
	CertificateKey string // hex, as kubeadm certs certificate-key prints
	// KubeProxyMode ("iptables", "ipvs", "nftables"; "" for
	// DefaultKubeProxyMode) goes into the KubeProxyConfiguration document.
	KubeProxyMode string
}

// DefaultKubeletArgs are what every OCK node's kubelet gets.
func DefaultKubeletArgs() map[string]string {
	return map[string]string{
		"node-ip":           NodeIPPlaceholder,
		"address":           "0.0.0.0",
		"volume-plugin-dir": "/var/lib/kubelet/volumeplugins",
	}
}

type joinConfig struct {
	APIVersion       string            `json:"apiVersion"`
	Kind             string            `json:"kind"`
	Discovery        discovery         `json:"discovery"`
	NodeRegistration nodeRegistration  `json:"nodeRegistration"`
	ControlPlane     *joinControlPlane `json:"controlPlane,omitempty"`
	SkipPhases       []string          `json:"skipPhases,omitempty"`
	Patches          *patches          `json:"patches,omitempty"`
}

type discovery struct {
	BootstrapToken bootstrapTokenDiscovery `json:"bootstrapToken"`
}

type bootstrapTokenDiscovery struct {
	APIServerEndpoint string   `json:"apiServerEndpoint"`
	Token             string   `json:"token"`
	CACertHashes      []string `json:"caCertHashes"`
}

type nodeRegistration struct {
	// A map in v1beta3, a list of {name, value} in v1beta4.
	KubeletExtraArgs any `json:"kubeletExtraArgs,omitempty"`
}

type arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type joinControlPlane struct {
	LocalAPIEndpoint apiEndpoint `json:"localAPIEndpoint"`
	CertificateKey   string      `json:"certificateKey"`
}

type apiEndpoint struct {
	AdvertiseAddress string `json:"advertiseAddress"`
	BindPort         int32  `json:"bindPort"`
}

type patches struct {
	Directory string `json:"directory"`
}

type kubeProxyConfig struct {
	APIVersion         string `json:"apiVersion"`
	Kind               string `json:"kind"`
	Mode               string `json:"mode,omitempty"`
	MetricsBindAddress string `json:"metricsBindAddress,omitempty"`
}

// DefaultKubeProxyMode is ocne's.
const DefaultKubeProxyMode = "iptables"

// kubeProxyMetrics is where ocne's control planes serve kube-proxy's
// metrics: on every address, for the cluster's monitoring.
const kubeProxyMetrics = "0.0.0.0:10249"

// Marshal renders the configuration as the YAML kubeadm join --config
// reads: the JoinConfiguration and, for a control plane, a
// KubeProxyConfiguration document after it.
func (j Join) Marshal() ([]byte, error) {
	if j.APIVersion != V1Beta3 && j.APIVersion != V1Beta4 {
		return nil, fmt.Errorf("unsupported kubeadm API version %q", j.APIVersion)
	}
	c := joinConfig{
		APIVersion: j.APIVersion,
		Kind:       "JoinConfiguration",
		Discovery: discovery{BootstrapToken: bootstrapTokenDiscovery{
			APIServerEndpoint: j.APIServerEndpoint, Token: j.Token, CACertHashes: j.CACertHashes,
		}},
		// The OCK image has its own checks; kubeadm's would trip over
		// the first boot's half-started services.
		SkipPhases: []string{"preflight"},
		Patches:    &patches{Directory: PatchesDir},
	}
	if len(j.KubeletArgs) > 0 {
		if j.APIVersion == V1Beta3 {
			c.NodeRegistration.KubeletExtraArgs = j.KubeletArgs
		} else {
			c.NodeRegistration.KubeletExtraArgs = sortedArgs(j.KubeletArgs)
		}
	}
	if cp := j.ControlPlane; cp != nil {
		c.ControlPlane = &joinControlPlane{
			LocalAPIEndpoint: apiEndpoint{AdvertiseAddress: NodeIPPlaceholder, BindPort: cp.BindPort},
			CertificateKey:   cp.CertificateKey,
		}
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode JoinConfiguration: %w", err)
	}
	if j.ControlPlane != nil {
		kp, err := kubeProxyDoc(j.ControlPlane.KubeProxyMode)
		if err != nil {
			return nil, err
		}
		out = bytes.Join([][]byte{out, kp}, []byte("---\n"))
	}
	return out, nil
}

// kubeProxyDoc is the KubeProxyConfiguration document of a control plane.
func kubeProxyDoc(mode string) ([]byte, error) {
	if mode == "" {
		mode = DefaultKubeProxyMode
	}
	kp, err := yaml.Marshal(kubeProxyConfig{APIVersion: "kubeproxy.config.k8s.io/v1alpha1", Kind: "KubeProxyConfiguration",
		Mode: mode, MetricsBindAddress: kubeProxyMetrics})
	if err != nil {
		return nil, fmt.Errorf("encode KubeProxyConfiguration: %w", err)
	}
	return kp, nil
}

func sortedArgs(m map[string]string) []arg {
	out := make([]arg, 0, len(m))
	for k, v := range m {
		out = append(out, arg{k, v})
	}
	// Stable output: the same inputs give the same file.
	slices.SortFunc(out, func(a, b arg) int { return strings.Compare(a.Name, b.Name) })
	return out
}
