package config

import (
	"os"
	"path/filepath"
	"testing"
)

// The cluster file wins over defaults.yaml key by key, for the node keys
// as for the others.
func TestLoadNode(t *testing.T) {
	dir := t.TempDir()
	defaults := filepath.Join(dir, "defaults.yaml")
	cluster := filepath.Join(dir, "cluster.yaml")
	os.WriteFile(defaults, []byte("registry: reg.example.com\npassword: $6$a\nkubeApiServerBindPort: 6443\nproviders:\n  byo:\n    networkInterface: eth0\n"), 0o644)
	os.WriteFile(cluster, []byte("password: $6$b\nkubeApiServerBindPort: 6444\npodSubnet: 10.1.0.0/16\nproviders:\n  byo:\n    networkInterface: enp1s0\n"), 0o644)
	c, err := Load(defaults, cluster)
	if err != nil {
		t.Fatal(err)
	}
	want := Node{Registry: "reg.example.com", Password: "$6$b", KubeAPIServerPort: 6444, PodSubnet: "10.1.0.0/16"}
	want.Providers.BYO.NetworkInterface = "enp1s0"
	if c.Node != want {
		t.Errorf("got %+v\nwant %+v", c.Node, want)
	}
}
