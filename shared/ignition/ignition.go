// Package ignition writes the first-boot Ignition config of an OCK node
// that joins a cluster, with the coreos/ignition/v2 config types, and
// checks it with the same library before anyone sees it.
package ignition

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	butane "github.com/coreos/butane/config"
	butanecommon "github.com/coreos/butane/config/common"
	"github.com/coreos/ignition/v2/config/util"
	v33 "github.com/coreos/ignition/v2/config/v3_3/types"
	"github.com/coreos/vcontext/report"
	"github.com/vincent-petithory/dataurl"
)

// Paths and units on the node, as OCK expects them (../shared notes,
// ock-node.md).
const (
	KubeadmConfigPath  = "/etc/kubernetes/kubeadm.conf"
	UpdateConfigPath   = "/etc/ocne/update.yaml"
	RegistriesConfPath = "/etc/containers/registries.conf"
	OcneUnit           = "ocne.service"
	BootstrapDropin    = "bootstrap.conf"
	ProxyDropin        = "proxy.conf"
	UserName           = "ocne"
)

// DefaultContainerRegistry serves OCNE's container images.
const DefaultContainerRegistry = "container-registry.oracle.com"

// DefaultTransport is how ocne-update pulls OCK updates.
const DefaultTransport = "ostree-unverified-registry"

// Node is what the config of one joining node holds.
type Node struct {
	// KubeadmConfig is the kubeadm JoinConfiguration YAML (holds the token).
	KubeadmConfig []byte
	// NetInterface is the interface whose address the node uses; "" lets
	// the node's script pick the default route's.
	NetInterface string
	// Update: the OCK image repository (without tag), the tag (the
	// Kubernetes version) and the transport ocne-update pulls with.
	OSRegistry, OSTag, Transport string
	// ContainerRegistry is the registry for unqualified image names.
	ContainerRegistry string
	Proxy             Proxy
	SSHKeys           []string
	PasswordHash      string
}

// Proxy is the proxy for crio, kubelet, ocne-update and rpm-ostreed.
type Proxy struct {
	HTTPProxy, HTTPSProxy string
	NoProxy               []string
}

// Versions are the Ignition spec versions Build writes, oldest first.
// The OCK nodes' Ignition reads 3.4.0, the default.
var Versions = []string{"3.3.0", "3.4.0", "3.5.0"}

// DefaultVersion is what nodes of today's OCK images read.
const DefaultVersion = "3.4.0"

// Build returns the node's config as Ignition JSON of spec version, with
// extra (Ignition JSON or Butane YAML, may be nil) merged last, so what
// the user adds wins. The result has passed the library's validation for
// that exact version.
func Build(n Node, version string, extra []byte) ([]byte, error) {
	r, ok := renderers[version]
	if !ok {
		return nil, fmt.Errorf("unsupported Ignition spec version %q: use one of %s", version, strings.Join(Versions, ", "))
	}
	if len(extra) > 0 {
		var err error
		if extra, err = toIgnition(extra); err != nil {
			return nil, err
		}
	}
	return r(n.config(), extra)
}

// config builds in the oldest supported spec: newer ones are translated
// up from it, and the library only translates upwards.
func (n Node) config() v33.Config {
	var c v33.Config
	c.Ignition.Version = "3.3.0"
	c.Storage.Files = []v33.File{
		file(KubeadmConfigPath, 0o600, n.KubeadmConfig),
		file(UpdateConfigPath, 0o400, []byte(fmt.Sprintf("registry: %s\ntag: %s\ntransport: %s\n", n.OSRegistry, n.OSTag, n.Transport))),
	}
	if n.ContainerRegistry != "" {
		c.Storage.Files = append(c.Storage.Files, file(RegistriesConfPath, 0o644,
			[]byte(fmt.Sprintf("unqualified-search-registries = [%q]\n", n.ContainerRegistry))))
	}

	bootstrap := "[Service]\nEnvironment=ACTION=join\n"
	if n.NetInterface != "" {
		bootstrap += "Environment=NET_INTERFACE=" + n.NetInterface + "\n"
	}
	units := []v33.Unit{
		{Name: OcneUnit, Enabled: util.BoolToPtr(true), Dropins: []v33.Dropin{{Name: BootstrapDropin, Contents: &bootstrap}}},
		{Name: "crio.service", Enabled: util.BoolToPtr(true)},
		{Name: "kubelet.service", Enabled: util.BoolToPtr(true)},
		{Name: "ocne-update.service", Enabled: util.BoolToPtr(true)},
	}
	if p := n.Proxy.dropin(); p != "" {
		units = append(units, v33.Unit{Name: "rpm-ostreed.service"})
		for i := range units {
			if units[i].Name != OcneUnit {
				units[i].Dropins = append(units[i].Dropins, v33.Dropin{Name: ProxyDropin, Contents: &p})
			}
		}
	}
	c.Systemd.Units = units

	if len(n.SSHKeys) > 0 || n.PasswordHash != "" {
		u := v33.PasswdUser{Name: UserName}
		for _, k := range n.SSHKeys {
			u.SSHAuthorizedKeys = append(u.SSHAuthorizedKeys, v33.SSHAuthorizedKey(k))
		}
		if n.PasswordHash != "" {
			u.PasswordHash = &n.PasswordHash
		}
		c.Passwd.Users = []v33.PasswdUser{u}
	}
	return c
}

func file(path string, mode int, data []byte) v33.File {
	src := dataurl.EncodeBytes(data)
	return v33.File{
		Node:          v33.Node{Path: path, Overwrite: util.BoolToPtr(true)},
		FileEmbedded1: v33.FileEmbedded1{Mode: &mode, Contents: v33.Resource{Source: &src}},
	}
}

// dropin is the [Service] proxy environment, or "" without a proxy.
func (p Proxy) dropin() string {
	if p.HTTPProxy == "" && p.HTTPSProxy == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("[Service]\n")
	for _, kv := range [][2]string{{"HTTP_PROXY", p.HTTPProxy}, {"HTTPS_PROXY", p.HTTPSProxy}, {"NO_PROXY", strings.Join(p.NoProxy, ",")}} {
		if kv[1] != "" {
			// systemd reads the quoted form whatever the value holds.
			fmt.Fprintf(&b, "Environment=%q\n", kv[0]+"="+kv[1])
		}
	}
	return b.String()
}

// NoProxyList joins the user's no-proxy entries with what a node must
// always reach directly (itself, the API server, the service and pod
// networks), without duplicates.
func NoProxyList(user string, always ...string) []string {
	var out []string
	for _, s := range append(strings.Split(user, ","), always...) {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// toIgnition returns extra as Ignition JSON: it is that already, or
// Butane YAML, which is translated.
func toIgnition(extra []byte) ([]byte, error) {
	if t := bytes.TrimSpace(extra); len(t) > 0 && t[0] == '{' {
		if !json.Valid(t) {
			var se *json.SyntaxError
			if err := json.Unmarshal(t, new(any)); errors.As(err, &se) {
				return nil, fmt.Errorf("extra Ignition is not valid JSON (at byte %d): %v", se.Offset, err)
			}
			return nil, errors.New("extra Ignition is not valid JSON")
		}
		return t, nil
	}
	out, rpt, err := butane.TranslateBytes(extra, butanecommon.TranslateBytesOptions{})
	if err != nil {
		return nil, fmt.Errorf("extra Ignition is neither Ignition JSON nor Butane YAML: %s", oneLine(err, rpt))
	}
	if rpt.IsFatal() {
		return nil, fmt.Errorf("extra Butane config: %s", oneLine(nil, rpt))
	}
	return out, nil
}

// oneLine folds an error and a validation report into one line.
func oneLine(err error, rpt report.Report) string {
	var parts []string
	if err != nil {
		parts = append(parts, err.Error())
	}
	for _, e := range rpt.Entries {
		if e.Kind == report.Error {
			parts = append(parts, strings.TrimSpace(e.String()))
		}
	}
	return strings.Join(strings.Fields(strings.Join(parts, "; ")), " ")
}
