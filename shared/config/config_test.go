package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIgnitionPlugins(t *testing.T) {
	dir := t.TempDir()
	defaults := filepath.Join(dir, "defaults.yaml")
	cluster := filepath.Join(dir, "cluster.yaml")
	os.WriteFile(defaults, []byte("ignitionPlugins:\n  http-put:\n    sha256: aa\n    options: {base-url: http://a/}\n  matchbox:\n    sha256: bb\n"), 0o600)
	os.WriteFile(cluster, []byte("ignitionPlugins:\n  http-put:\n    options: {base-url: http://b/}\n"), 0o600)
	c, err := Load(defaults, cluster)
	if err != nil {
		t.Fatal(err)
	}
	// The cluster config's options win; the pinned checksum stays.
	if p := c.IgnitionPlugins["http-put"]; p.SHA256 != "aa" || p.Options["base-url"] != "http://b/" {
		t.Errorf("http-put: %+v", p)
	}
	if c.IgnitionPlugins["matchbox"].SHA256 != "bb" {
		t.Errorf("matchbox: %+v", c.IgnitionPlugins["matchbox"])
	}
}
