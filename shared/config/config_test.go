package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ocneDefaults is a defaults.yaml with every key of ocne 2.3.3's schema,
// which ocne's strict parser accepts.
func ocneDefaults(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/ocne-defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeFiles writes the non-empty contents into dir and names them.
func writeFiles(t *testing.T, defaults, own, cluster string) Files {
	t.Helper()
	dir := t.TempDir()
	f := Files{Defaults: filepath.Join(dir, "defaults.yaml"), Own: filepath.Join(dir, "ocne-image.yaml")}
	for path, content := range map[string]string{f.Defaults: defaults, f.Own: own} {
		if content != "" {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cluster != "" {
		f.Cluster = filepath.Join(dir, "cluster.yaml")
		if err := os.WriteFile(f.Cluster, []byte(cluster), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestRead(t *testing.T) {
	tests := []struct {
		name                   string
		defaults, own, cluster string
		wantVersion            string
		wantBuilder            string
		wantKubeconfig         string
		wantWarning            string // "": none
		wantErr                string
	}{
		{
			name:           "every key ocne accepts: no warning",
			defaults:       ocneDefaults(t),
			wantVersion:    "1.30",
			wantKubeconfig: "/root/.kube/kubeconfig.mgmt",
		},
		{
			name:        "our keys in defaults.yaml still work, with one warning",
			defaults:    "kubernetesVersion: \"1.31\"\nbuilderImage: reg/b:1\nregistriesConf: /etc/r.conf\nkickstart:\n  lang: de_DE\nignitionPlugins:\n  dir: {sha256: aa}\nvirtualIp: 10.0.0.5\nproviders:\n  byo:\n    networkInterface: eth0\n",
			wantVersion: "1.31", wantBuilder: "reg/b:1",
			wantWarning: "holds keys ocne does not know, which make every ocne command fail: move builderImage, registriesConf, kickstart, ignitionPlugins, virtualIp to ",
		},
		{
			name:        "kubeVersion is ours, not ocne's",
			defaults:    "kubeVersion: 1.32\n",
			wantVersion: "1.32",
			wantWarning: "move kubeVersion to ",
		},
		{
			name:        "keys nobody knows in defaults.yaml are ocne's to report",
			defaults:    "someOcneKeyOfTheFuture: 1\nosTag: t\n",
			wantVersion: "",
		},
		{
			name:        "our file: every key of ours",
			own:         "kubernetesVersion: 1.30\nbuilderImage: reg/b:2\nkubeconfig: /k\nkickstart:\n  lang: de_DE\nignitionPlugins:\n  dir:\n    sha256: aa\n    options: {dir: /srv}\nproviders:\n  byo:\n    networkInterface: eth0\nproxy:\n  noProxy: .example.com\n",
			wantVersion: "1.30", wantBuilder: "reg/b:2", wantKubeconfig: "/k",
		},
		{
			name:    "our file: unknown key",
			own:     "builderImage: reg/b:2\nbuilderimage: reg/b:3\n",
			wantErr: "ocne-image.yaml line 2: unknown key builderimage; remove it or fix its spelling",
		},
		{
			name:    "our file: unknown nested key",
			own:     "kickstart:\n  lang: de_DE\n  langauge: de\n",
			wantErr: "ocne-image.yaml line 3: unknown key kickstart.langauge;",
		},
		{
			name:    "our file: not YAML settings",
			own:     "this is not a config file\n",
			wantErr: "ocne-image.yaml line 1: not YAML `key: value` settings",
		},
		{
			name:    "our file: broken YAML",
			own:     "builderImage: [unclosed\n",
			wantErr: "ocne-image.yaml: line 1: did not find expected ',' or ']'; fix the YAML",
		},
		{
			name:    "our file: wrong type",
			own:     "kickstart: [a, b]\nbuilderImage: {a: b}\n",
			wantErr: "ocne-image.yaml: line 1: cannot unmarshal !!seq into config.Kickstart (and 1 more); fix the value",
		},
		{
			name:     "our file beats defaults.yaml, the cluster config beats both",
			defaults: "kubernetesVersion: 1.29\nkubeconfig: /from-defaults\n",
			own:      "kubernetesVersion: 1.30\nbuilderImage: reg/own\nkubeconfig: /from-own\n",
			cluster:  "name: c\nprovider: byo\nkubernetesVersion: 1.31\n",
			// The cluster config may hold our keys: ocne ignores what it
			// does not know there.
			wantVersion: "1.31", wantBuilder: "reg/own", wantKubeconfig: "/from-own",
		},
		{
			name:        "our keys in the cluster config: no warning",
			cluster:     "name: c\nbuilderImage: reg/c\nkickstart:\n  lang: en_US\nkubernetesVersion: 1.30\n",
			wantVersion: "1.30", wantBuilder: "reg/c",
		},
		{name: "unquoted 1.30 in defaults.yaml", defaults: "kubernetesVersion: 1.30\n", wantVersion: "1.30"},
		{name: "unquoted 1.30 in our file", own: "kubernetesVersion: 1.30\n", wantVersion: "1.30"},
		{name: "unquoted 1.30 in the cluster config", cluster: "kubernetesVersion: 1.30\n", wantVersion: "1.30"},
		{name: "empty files", defaults: "# nothing\n", own: "\n", cluster: "---\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeFiles(t, tt.defaults, tt.own, tt.cluster)
			c, warnings, err := Read(f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %q, want one line with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantWarning == "" && len(warnings) > 0:
				t.Errorf("warnings %q, want none", warnings)
			case tt.wantWarning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tt.wantWarning) ||
				!strings.HasPrefix(warnings[0], f.Defaults) || !strings.HasSuffix(warnings[0], f.Own) || strings.Contains(warnings[0], "\n")):
				t.Errorf("warnings %q, want one line %q naming %s and %s", warnings, tt.wantWarning, f.Defaults, f.Own)
			}
			if c.Version() != tt.wantVersion || c.BuilderImage != tt.wantBuilder || c.KubeConfig != tt.wantKubeconfig {
				t.Errorf("version %q builderImage %q kubeconfig %q, want %q %q %q",
					c.Version(), c.BuilderImage, c.KubeConfig, tt.wantVersion, tt.wantBuilder, tt.wantKubeconfig)
			}
		})
	}
}

func TestDefaultFiles(t *testing.T) {
	t.Setenv(DefaultsEnv, "")
	t.Setenv(OwnEnv, "")
	f, err := DefaultFiles("/home/u", "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Files{Defaults: "/home/u/.ocne/defaults.yaml", Own: "/home/u/.ocne/ocne-image.yaml", Cluster: "c.yaml"}); f != want {
		t.Errorf("got %+v, want %+v", f, want)
	}
	t.Setenv(DefaultsEnv, "/etc/ocne/defaults.yaml")
	t.Setenv(OwnEnv, "/etc/ocne/ocne-image.yaml")
	f, _ = DefaultFiles("/home/u", "")
	if f.Defaults != "/etc/ocne/defaults.yaml" || f.Own != "/etc/ocne/ocne-image.yaml" {
		t.Errorf("the environment did not move the files: %+v", f)
	}
}

func TestIgnitionPlugins(t *testing.T) {
	f := writeFiles(t, "",
		"ignitionPlugins:\n  http-put:\n    sha256: aa\n    options: {base-url: http://a/}\n  matchbox:\n    sha256: bb\n",
		"ignitionPlugins:\n  http-put:\n    options: {base-url: http://b/}\n")
	c, _, err := Read(f)
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
