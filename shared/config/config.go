// Package config reads the OCNE configuration files that supply defaults
// for our flags: ~/.ocne/defaults.yaml and a cluster configuration file.
// Precedence, highest first: flags, the cluster config, defaults.yaml, the
// built-in defaults.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// Proxy is the proxy section both files share.
type Proxy struct {
	HTTPSProxy string `yaml:"httpsProxy,omitempty"`
	HTTPProxy  string `yaml:"httpProxy,omitempty"`
	NoProxy    string `yaml:"noProxy,omitempty"`
}

// Config holds the keys this tool uses; other keys of the files are ignored
// because both files configure much more than image building.
type Config struct {
	OSRegistry  string `yaml:"osRegistry,omitempty"`
	OSTag       string `yaml:"osTag,omitempty"`
	KubeVersion string `yaml:"kubeVersion,omitempty"`
	// KubernetesVersion is the spelling OCNE's own files use.
	KubernetesVersion string `yaml:"kubernetesVersion,omitempty"`
	Proxy             Proxy  `yaml:"proxy,omitempty"`
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

// DefaultsPath returns ~/.ocne/defaults.yaml.
func DefaultsPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory: %w", err)
	}
	return filepath.Join(home, ".ocne", "defaults.yaml"), nil
}

// Load merges the defaults file (which may be absent) and the cluster
// config file (which must exist if named).
func Load(defaultsPath, clusterPath string) (Config, error) {
	var c Config
	if defaultsPath != "" {
		d, err := readFile(defaultsPath, true)
		if err != nil {
			return c, err
		}
		c = d
	}
	if clusterPath != "" {
		cl, err := readFile(clusterPath, false)
		if err != nil {
			return c, err
		}
		c = merge(c, cl)
	}
	return c, nil
}

func readFile(path string, optional bool) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read config %s: %w", path, err)
	}
	// yaml.v3 keeps a scalar's text when the field is a string, so an
	// unquoted `kubernetesVersion: 1.30` stays "1.30", not the float 1.3.
	if err := yaml.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("config %s: %w; fix the YAML or move the file away", path, err)
	}
	if err := c.Node.resolvePaths(path); err != nil {
		return c, err
	}
	return c, nil
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
	// Key by key, so options in the cluster config never drop a checksum
	// pinned in defaults.yaml.
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
