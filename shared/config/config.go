// Package config reads the OCNE configuration files that supply defaults
// for our flags: ~/.ocne/defaults.yaml and a cluster configuration file.
// Precedence, highest first: flags, the cluster config, defaults.yaml, the
// built-in defaults.
package config

import (
	"errors"
	"fmt"
	"io/fs"
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
	// Node is what `ignition join` reads.
	Node `yaml:",inline"`
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
	base.Node = mergeNode(base.Node, over.Node)
	return base
}
