// Package config reads the configuration files that supply defaults for
// our flags. Precedence, highest first: flags, the cluster config
// (--config), ~/.ocne/ocne-image.yaml, ~/.ocne/defaults.yaml, the built-in
// defaults.
//
// defaults.yaml belongs to ocne, which parses it strictly: a key ocne does
// not know makes every ocne command fail. So our own keys live in
// ocne-image.yaml, which only this tool reads; it sits above defaults.yaml
// because it is the more specific file: a key there is meant for this tool,
// while defaults.yaml also sets up ocne's own clusters. ocne parses the
// cluster config leniently, so our keys may stay there.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Environment variables that move the files, as OCNE_DEFAULTS does for ocne.
const (
	DefaultsEnv = "OCNE_DEFAULTS"
	OwnEnv      = "OCNE_IMAGE_CONFIG"
)

// Proxy is the proxy section both files share.
type Proxy struct {
	HTTPSProxy string `yaml:"httpsProxy,omitempty"`
	HTTPProxy  string `yaml:"httpProxy,omitempty"`
	NoProxy    string `yaml:"noProxy,omitempty"`
}

// Config holds the keys this tool uses. ocne-image.yaml may hold only
// these; in the other files, keys we do not use are ocne's and ignored.
type Config struct {
	OSRegistry  string `yaml:"osRegistry,omitempty"`
	OSTag       string `yaml:"osTag,omitempty"`
	KubeVersion string `yaml:"kubeVersion,omitempty"`
	// KubernetesVersion is the spelling OCNE's own files use.
	KubernetesVersion string `yaml:"kubernetesVersion,omitempty"`
	Proxy             Proxy  `yaml:"proxy,omitempty"`
	// KubeConfig is ocne's default kubeconfig, used when neither
	// --kubeconfig nor $KUBECONFIG names one (shared/kube).
	KubeConfig string `yaml:"kubeconfig,omitempty"`
	// BuilderImage is the image `create` runs in the cluster.
	BuilderImage string `yaml:"builderImage,omitempty"`
	// RegistriesConf is a registries.conf(5) file (mirrors) for the pulls
	// `create` makes, in the cluster as on this machine.
	RegistriesConf string `yaml:"registriesConf,omitempty"`
	// Kickstart holds a site's defaults for the Kickstart files.
	Kickstart Kickstart `yaml:"kickstart,omitempty"`
	// IgnitionPlugins configures Ignition hosting backends by name.
	IgnitionPlugins map[string]IgnitionPlugin `yaml:"ignitionPlugins,omitempty"`
	// Node is what `ignition join` reads.
	Node `yaml:",inline"`
}

// Kickstart is the `kickstart:` section: settings shared by a site's nodes.
type Kickstart struct {
	OSTreeURL string `yaml:"ostreeUrl,omitempty"`
	SELinux   string `yaml:"selinux,omitempty"`
	Timezone  string `yaml:"timezone,omitempty"`
	Keyboard  string `yaml:"keyboard,omitempty"`
	Lang      string `yaml:"lang,omitempty"`
	Disk      string `yaml:"disk,omitempty"`
	Firmware  string `yaml:"firmware,omitempty"`
	FSType    string `yaml:"fsType,omitempty"`
	Finish    string `yaml:"finish,omitempty"`
}

// IgnitionPlugin is one Ignition hosting backend's settings.
type IgnitionPlugin struct {
	// SHA256 pins the plugin executable: a plugin whose checksum differs
	// is not run.
	SHA256 string `yaml:"sha256,omitempty"`
	// Options are the backend's default --publish-opt values.
	Options map[string]string `yaml:"options,omitempty"`
}

// Version returns the Kubernetes version, whichever key set it.
func (c Config) Version() string {
	if c.KubeVersion != "" {
		return c.KubeVersion
	}
	return c.KubernetesVersion
}

// ocneDefaultsKeys are the keys of ocne 2.3.3's defaults.yaml schema
// (pkg/config/types.Config) in the sections our Config shares with it, as
// dotted paths. Any other key of ours in defaults.yaml breaks ocne.
var ocneDefaultsKeys = map[string]bool{
	"providers": true, "kubeconfig": true, "autoStartUI": true, "proxy": true,
	"kubeApiServerBindPort": true, "kubeApiServerBindPortAlt": true, "podSubnet": true,
	"serviceSubnet": true, "registry": true, "certificateInformation": true, "osTag": true,
	"osRegistry": true, "kubeProxyMode": true, "bootVolumeContainerImage": true, "cni": true,
	"headless": true, "catalog": true, "communityCatalog": true, "ephemeralCluster": true,
	"quiet": true, "kubernetesVersion": true, "sshPublicKeyPath": true, "sshPublicKey": true,
	"password": true, "extraIgnitionInline": true, "extraIgnition": true,
	"proxy.httpsProxy": true, "proxy.httpProxy": true, "proxy.noProxy": true,
	"providers.libvirt": true, "providers.oci": true, "providers.olvm": true, "providers.byo": true,
	"providers.byo.automaticTokenCreation": true, "providers.byo.networkInterface": true,
	"certificateInformation.country": true, "certificateInformation.org": true,
	"certificateInformation.orgUnit": true, "certificateInformation.state": true,
}

// Files names the configuration files; an empty name is skipped.
type Files struct {
	// Defaults is ocne's defaults.yaml: absent is fine, our keys in it
	// are still read but warned about.
	Defaults string
	// Own is ocne-image.yaml: absent is fine, an unknown key is an error.
	Own string
	// Cluster is the --config file: it must exist.
	Cluster string
}

// DefaultFiles returns the files under home ("": the user's home),
// $OCNE_DEFAULTS and $OCNE_IMAGE_CONFIG overriding their paths, and the
// cluster config clusterFile.
func DefaultFiles(home, clusterFile string) (Files, error) {
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return Files{}, fmt.Errorf("find home directory for ~/.ocne: %w", err)
		}
		home = h
	}
	pick := func(env, name string) string {
		if p := os.Getenv(env); p != "" {
			return p
		}
		return filepath.Join(home, ".ocne", name)
	}
	return Files{Defaults: pick(DefaultsEnv, "defaults.yaml"), Own: pick(OwnEnv, "ocne-image.yaml"), Cluster: clusterFile}, nil
}

// Read merges the files, lowest precedence first, and returns one warning
// line per file that holds keys it should not.
func Read(f Files) (Config, []string, error) {
	var c Config
	var warnings []string
	for _, file := range []struct {
		path     string
		optional bool
		check    func(path string, root *yaml.Node) (string, error)
	}{
		{f.Defaults, true, func(path string, root *yaml.Node) (string, error) { return misplaced(path, root, f.Own), nil }},
		{f.Own, true, strict},
		{f.Cluster, false, nil},
	} {
		if file.path == "" {
			continue
		}
		fc, warning, err := readFile(file.path, file.optional, file.check)
		if err != nil {
			return c, warnings, err
		}
		if warning != "" {
			warnings = append(warnings, warning)
		}
		c = merge(c, fc)
	}
	return c, warnings, nil
}

// readFile parses one file; check looks at its keys before they are
// decoded and returns a warning or an error.
func readFile(path string, optional bool, check func(string, *yaml.Node) (string, error)) (Config, string, error) {
	var c Config
	b, err := os.ReadFile(path)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return c, "", nil
	}
	if err != nil {
		return c, "", fmt.Errorf("read config %s: %w", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return c, "", fmt.Errorf("config %s: %s; fix the YAML or move the file away", path, yamlError(err))
	}
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return c, "", nil // empty, or only comments
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return c, "", fmt.Errorf("config %s line %d: not YAML `key: value` settings; fix the file or move it away", path, root.Line)
	}
	var warning string
	if check != nil {
		if warning, err = check(path, root); err != nil {
			return c, "", err
		}
	}
	// yaml.v3 keeps a scalar's text when the field is a string, so an
	// unquoted `kubernetesVersion: 1.30` stays "1.30", not the float 1.3.
	if err := root.Decode(&c); err != nil {
		return c, "", fmt.Errorf("config %s: %s; fix the value", path, yamlError(err))
	}
	if err := c.Node.resolvePaths(path); err != nil {
		return c, "", err
	}
	return c, warning, nil
}

// strict fails on the first key Config does not have.
func strict(path string, root *yaml.Node) (string, error) {
	var err error
	walkKeys(root, reflect.TypeFor[Config](), "", func(key string, line int, known bool) bool {
		if !known && err == nil {
			err = fmt.Errorf("config %s line %d: unknown key %s; remove it or fix its spelling (the keys are in the README)", path, line, key)
		}
		return known && err == nil
	})
	return "", err
}

// misplaced names our keys in ocne's defaults.yaml, which ocne refuses.
// Keys neither of us knows are ocne's business: it reports them itself.
func misplaced(path string, root *yaml.Node, own string) string {
	var keys []string
	walkKeys(root, reflect.TypeFor[Config](), "", func(key string, _ int, known bool) bool {
		if known && !ocneDefaultsKeys[key] {
			keys = append(keys, key)
			return false
		}
		return known
	})
	if len(keys) == 0 {
		return ""
	}
	return fmt.Sprintf("%s holds keys ocne does not know, which make every ocne command fail: move %s to %s",
		path, strings.Join(keys, ", "), own)
}

// walkKeys calls visit for every key of the mapping n, with its dotted
// path, its line and whether t (the Go type n decodes into) has it, and
// descends into its value when visit says so.
func walkKeys(n *yaml.Node, t reflect.Type, prefix string, visit func(key string, line int, known bool) bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind != yaml.MappingNode || (t.Kind() != reflect.Struct && t.Kind() != reflect.Map) {
		return // a scalar field given a mapping: Decode names the type error
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		var ft reflect.Type
		switch t.Kind() {
		case reflect.Map:
			ft = t.Elem()
		case reflect.Struct:
			ft = yamlField(t, k.Value)
		}
		if visit(key, k.Line, ft != nil) && ft != nil {
			walkKeys(v, ft, key+".", visit)
		}
	}
}

// yamlField returns the type of t's field that decodes key, looking into
// inline structs as yaml.v3 does, or nil.
func yamlField(t reflect.Type, key string) reflect.Type {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			if ft := yamlField(f.Type, key); ft != nil {
				return ft
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == key && f.IsExported() {
			return f.Type
		}
	}
	return nil
}

// yamlError is the first line of a YAML error: type errors list one line
// per bad value.
func yamlError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		more := ""
		if len(te.Errors) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(te.Errors)-1)
		}
		return te.Errors[0] + more
	}
	return strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "yaml: ")), " ")
}

// merge returns base with every key set in over replaced.
func merge(base, over Config) Config {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&base.OSRegistry, over.OSRegistry)
	set(&base.OSTag, over.OSTag)
	set(&base.KubeConfig, over.KubeConfig)
	set(&base.BuilderImage, over.BuilderImage)
	set(&base.RegistriesConf, over.RegistriesConf)
	if v := over.Version(); v != "" {
		base.KubeVersion, base.KubernetesVersion = v, ""
	}
	set(&base.Proxy.HTTPSProxy, over.Proxy.HTTPSProxy)
	set(&base.Proxy.HTTPProxy, over.Proxy.HTTPProxy)
	set(&base.Proxy.NoProxy, over.Proxy.NoProxy)
	bk, ov := &base.Kickstart, over.Kickstart
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&bk.OSTreeURL, ov.OSTreeURL}, {&bk.SELinux, ov.SELinux}, {&bk.Timezone, ov.Timezone},
		{&bk.Keyboard, ov.Keyboard}, {&bk.Lang, ov.Lang}, {&bk.Disk, ov.Disk},
		{&bk.Firmware, ov.Firmware}, {&bk.FSType, ov.FSType}, {&bk.Finish, ov.Finish},
	} {
		set(f.dst, f.v)
	}
	// Key by key, so options in a later file never drop a checksum
	// pinned in an earlier one.
	if len(over.IgnitionPlugins) > 0 {
		plugins := maps.Clone(base.IgnitionPlugins)
		if plugins == nil {
			plugins = map[string]IgnitionPlugin{}
		}
		for name, o := range over.IgnitionPlugins {
			p := plugins[name]
			set(&p.SHA256, o.SHA256)
			p.Options = maps.Clone(p.Options)
			if p.Options == nil {
				p.Options = map[string]string{}
			}
			maps.Copy(p.Options, o.Options)
			plugins[name] = p
		}
		base.IgnitionPlugins = plugins
	}
	base.Node = mergeNode(base.Node, over.Node)
	return base
}
