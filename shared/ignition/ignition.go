// Package ignition writes the first-boot Ignition config of an OCK node
// that joins a cluster, with the coreos/ignition/v2 config types, and
// checks it with the same library before anyone sees it. What it writes
// follows what ocne 2.3.3's byo driver writes and what the OCK image's
// first-boot scripts read (see join_table_test.go).
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
// ock-node.md; oracle-cne/ock configs/common/systemd).
const (
	KubeadmConfigPath  = "/etc/kubernetes/kubeadm.conf"
	UpdateConfigPath   = "/etc/ocne/update.yaml"
	RegistriesConfPath = "/etc/containers/registries.conf"
	OcneUnit           = "ocne.service"
	BootstrapDropin    = "bootstrap.conf"
	ProxyDropin        = "proxy.conf"
)

// The login user ocne makes on every node: in wheel, with OCK's rescue
// shell (a menu, not a shell prompt).
const (
	UserName  = "ocne"
	UserGroup = "wheel"
	UserShell = "/usr/bin/rescue.sh"
)

// DefaultContainerRegistry serves OCNE's container images.
const DefaultContainerRegistry = "container-registry.oracle.com"

// Node is what the config of one joining node holds.
type Node struct {
	// KubeadmConfig is the kubeadm JoinConfiguration YAML (holds the token).
	KubeadmConfig []byte
	// PatchesDir is the kubeadm patches directory KubeadmConfig names:
	// kubeadm fails when it does not exist, so it is created.
	PatchesDir string
	// NetInterface is the interface whose address the node uses; "" lets
	// the node's script pick the default route's.
	NetInterface string
	Update       Update
	// ContainerRegistry is the registry for unqualified image names.
	ContainerRegistry string
	Proxy             Proxy
	User              User
	// VirtualIP makes the node hold the control plane's virtual IP with
	// keepalived and serve the API server port on it with nginx; nil for
	// workers and control planes behind a load balancer.
	VirtualIP *VirtualIP
	// Action is what the node's ocne.sh does: ActionJoin ("", the
	// default) or ActionInit for the first control-plane node.
	Action string
	// Files are more files for the node: the first control plane's CA.
	Files []File
}

// The actions of the node's ocne.sh.
const (
	ActionJoin = "join"
	ActionInit = "init"
)

// File is one more file for the node.
type File struct {
	Path string
	Mode int
	Data []byte
}

// Update is /etc/ocne/update.yaml, what the node's ocne-update.sh pulls:
// Registry is the image repository without transport and tag (see
// ock.UpdateSource), Tag the tag it adds, Transport the ostree transport.
type Update struct {
	Registry, Tag, Transport string
}

// User is the ocne login user's credentials; the user is created without
// any too, for the console's rescue shell.
type User struct {
	SSHKeys      []string
	PasswordHash string
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
// the extras (Ignition JSON or Butane YAML) merged last, in order, so
// what the user adds wins. The result has passed the library's
// validation for that exact version.
func Build(n Node, version string, extras ...Extra) ([]byte, error) {
	r, ok := renderers[version]
	if !ok {
		return nil, fmt.Errorf("unsupported Ignition spec version %q: use one of %s", version, strings.Join(Versions, ", "))
	}
	var docs []Extra
	for _, e := range extras {
		js, err := toIgnition(e.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		docs = append(docs, Extra{Name: e.Name, Data: js})
	}
	c, err := n.config()
	if err != nil {
		return nil, err
	}
	return r(c, docs)
}

// config builds in the oldest supported spec: newer ones are translated
// up from it, and the library only translates upwards.
func (n Node) config() (v33.Config, error) {
	var c v33.Config
	c.Ignition.Version = "3.3.0"
	u := n.Update
	c.Storage.Files = []v33.File{
		file(KubeadmConfigPath, 0o600, n.KubeadmConfig),
		file(UpdateConfigPath, 0o400, []byte(fmt.Sprintf("registry: %s\ntag: %s\ntransport: %s\n", u.Registry, u.Tag, u.Transport))),
	}
	if n.PatchesDir != "" {
		c.Storage.Directories = []v33.Directory{{Node: v33.Node{Path: n.PatchesDir}}}
	}
	if n.ContainerRegistry != "" {
		c.Storage.Files = append(c.Storage.Files, file(RegistriesConfPath, 0o644,
			[]byte(fmt.Sprintf("unqualified-search-registries = [%q]\n", n.ContainerRegistry))))
	}

	for _, f := range n.Files {
		c.Storage.Files = append(c.Storage.Files, file(f.Path, f.Mode, f.Data))
	}
	action := n.Action
	if action == "" {
		action = ActionJoin
	}
	bootstrap := "[Service]\nEnvironment=ACTION=" + action + "\n"
	if n.NetInterface != "" {
		bootstrap += "Environment=NET_INTERFACE=" + n.NetInterface + "\n"
	}
	c.Systemd.Units = []v33.Unit{
		{Name: OcneUnit, Enabled: util.BoolToPtr(true), Dropins: []v33.Dropin{{Name: BootstrapDropin, Contents: &bootstrap}}},
		{Name: "crio.service", Enabled: util.BoolToPtr(true)},
		{Name: "kubelet.service", Enabled: util.BoolToPtr(true)},
		{Name: "ocne-update.service", Enabled: util.BoolToPtr(true)},
	}
	proxied := []string{"crio.service", "kubelet.service", "ocne-update.service", "rpm-ostreed.service"}
	if v := n.VirtualIP; v != nil {
		if err := v.add(&c, n.NetInterface, n.ContainerRegistry); err != nil {
			return c, err
		}
		// nginx's image is pulled by podman in ExecStartPre.
		proxied = append(proxied, nginxUnit)
	}
	if p := n.Proxy.dropin(); p != "" {
		for _, name := range proxied {
			u := unitNamed(&c, name)
			u.Dropins = append(u.Dropins, v33.Dropin{Name: ProxyDropin, Contents: &p})
		}
	}
	c.Passwd.Users = append([]v33.PasswdUser{n.User.passwd()}, c.Passwd.Users...)
	return c, nil
}

// passwd is the ocne user as ocne makes it.
func (u User) passwd() v33.PasswdUser {
	p := v33.PasswdUser{Name: UserName, Groups: []v33.Group{UserGroup}, Shell: util.StrToPtr(UserShell)}
	for _, k := range u.SSHKeys {
		p.SSHAuthorizedKeys = append(p.SSHAuthorizedKeys, v33.SSHAuthorizedKey(k))
	}
	if u.PasswordHash != "" {
		p.PasswordHash = util.StrToPtr(u.PasswordHash)
	}
	return p
}

// unitNamed returns the unit of that name, added (not enabled) if absent.
func unitNamed(c *v33.Config, name string) *v33.Unit {
	for i := range c.Systemd.Units {
		if c.Systemd.Units[i].Name == name {
			return &c.Systemd.Units[i]
		}
	}
	c.Systemd.Units = append(c.Systemd.Units, v33.Unit{Name: name})
	return &c.Systemd.Units[len(c.Systemd.Units)-1]
}

func file(path string, mode int, data []byte) v33.File {
	src := dataurl.EncodeBytes(data)
	return v33.File{
		Node:          v33.Node{Path: path, Overwrite: util.BoolToPtr(true)},
		FileEmbedded1: v33.FileEmbedded1{Mode: &mode, Contents: v33.Resource{Source: &src}},
	}
}

// dropin is the [Service] proxy environment, or "" without a proxy. Both
// spellings: Go and the container tools read the upper-case variables,
// curl and others only the lower-case ones.
func (p Proxy) dropin() string {
	if p.HTTPProxy == "" && p.HTTPSProxy == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("[Service]\n")
	for _, kv := range [][2]string{{"HTTPS_PROXY", p.HTTPSProxy}, {"HTTP_PROXY", p.HTTPProxy}, {"NO_PROXY", strings.Join(p.NoProxy, ",")}} {
		if kv[1] == "" {
			continue
		}
		for _, name := range []string{kv[0], strings.ToLower(kv[0])} {
			// systemd reads the quoted form whatever the value holds.
			fmt.Fprintf(&b, "Environment=%q\n", name+"="+kv[1])
		}
	}
	return b.String()
}

// NoProxyList is NO_PROXY as ocne builds it: the user's entries, then
// what a node must reach directly (the API server's address, the service
// and pod networks), without duplicates or empty entries.
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
				return nil, fmt.Errorf("not valid JSON (at byte %d): %v", se.Offset, err)
			}
			return nil, errors.New("not valid JSON")
		}
		return t, nil
	}
	out, rpt, err := butane.TranslateBytes(extra, butanecommon.TranslateBytesOptions{})
	if err != nil {
		return nil, fmt.Errorf("neither Ignition JSON nor Butane YAML: %s", oneLine(err, rpt))
	}
	if rpt.IsFatal() {
		//lint:ignore ST1005 Butane is a name
		return nil, fmt.Errorf("Butane config: %s", oneLine(nil, rpt))
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
