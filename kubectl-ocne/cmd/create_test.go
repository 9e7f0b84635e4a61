package cmd

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/net/http/httpproxy"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ocne-image/ocne-image/shared/builderimage"
	"github.com/ocne-image/ocne-image/shared/buildinfo"
)

// TestCreateDefaults checks the precedence of flags, the cluster config,
// ~/.ocne/defaults.yaml and the built-in defaults.
func TestCreateDefaults(t *testing.T) {
	tests := []struct {
		name          string
		defaults      string
		cluster       string
		args          []string
		wantRegistry  string
		wantTag       string
		wantVersion   string
		wantProxy     string
		wantBuilder   string
		wantOutputFor string // version-arch of the default output name
	}{
		{
			name:         "built-in defaults",
			wantRegistry: "container-registry.oracle.com/olcne/ock-ostree", wantTag: "1.33", wantVersion: "1.33",
			wantOutputFor: "1.33-" + runtime.GOARCH, wantBuilder: builderimage.Default(buildinfo.Version),
		},
		{
			name:         "defaults.yaml",
			defaults:     "osRegistry: mirror.example.com/ock\nkubernetesVersion: 1.30\nproxy:\n  httpsProxy: http://proxy:3128\n",
			wantRegistry: "mirror.example.com/ock", wantTag: "1.30", wantVersion: "1.30", wantProxy: "http://proxy:3128",
			wantOutputFor: "1.30-" + runtime.GOARCH,
		},
		{
			name:         "cluster config beats defaults.yaml",
			defaults:     "osRegistry: mirror.example.com/ock\nkubernetesVersion: 1.30\n",
			cluster:      "name: c1\nprovider: byo\nkubernetesVersion: 1.31\nosTag: 1.31-custom\nbuilderImage: reg.example.com/b:1\n",
			wantRegistry: "mirror.example.com/ock", wantTag: "1.31-custom", wantVersion: "1.31",
			wantOutputFor: "1.31-" + runtime.GOARCH, wantBuilder: "reg.example.com/b:1",
		},
		{
			name:         "a patch version is its minor version, for the tag too",
			defaults:     "kubernetesVersion: v1.30.4\n",
			wantRegistry: "container-registry.oracle.com/olcne/ock-ostree", wantTag: "1.30", wantVersion: "1.30",
			wantOutputFor: "1.30-" + runtime.GOARCH,
		},
		{
			name:         "flags beat both",
			defaults:     "osRegistry: mirror.example.com/ock\nkubeVersion: 1.30\n",
			cluster:      "osTag: 1.31-custom\nbuilderImage: reg.example.com/b:1\n",
			args:         []string{"--version", "1.32", "--os-registry", "oci:/srv/ock", "--os-tag", "t", "--arch", "arm64", "--builder-image", "b:2"},
			wantRegistry: "oci:/srv/ock", wantTag: "t", wantVersion: "1.32",
			wantOutputFor: "1.32-arm64", wantBuilder: "b:2",
		},
		{
			name:         "a file source gets no default tag",
			args:         []string{"--os-registry", "oci-archive:/srv/ock.tar"},
			wantRegistry: "oci-archive:/srv/ock.tar", wantTag: "", wantVersion: "1.33",
			wantOutputFor: "1.33-" + runtime.GOARCH,
		},
		{
			name:         "a file source from defaults.yaml neither",
			defaults:     "osRegistry: ostree-unverified-image:oci:/srv/ock\nkubernetesVersion: 1.30\n",
			wantRegistry: "ostree-unverified-image:oci:/srv/ock", wantTag: "", wantVersion: "1.30",
			wantOutputFor: "1.30-" + runtime.GOARCH,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, args := configHome(t, "defaults.yaml", tt.defaults, tt.cluster, tt.args)
			o := &CreateOptions{IOStreams: genericiooptions.NewTestIOStreamsDiscard(), defaultsDir: home}
			c := newCmdCreate(o)
			if err := c.ParseFlags(args); err != nil {
				t.Fatal(err)
			}
			if err := o.Complete(c); err != nil {
				t.Fatal(err)
			}
			if o.OSRegistry != tt.wantRegistry || o.OSTag != tt.wantTag || o.Version != tt.wantVersion {
				t.Errorf("registry %q tag %q version %q, want %q %q %q", o.OSRegistry, o.OSTag, o.Version, tt.wantRegistry, tt.wantTag, tt.wantVersion)
			}
			if got := ""; o.proxy != nil {
				got = o.proxy.HTTPSProxy
				if got != tt.wantProxy {
					t.Errorf("proxy %q, want %q", got, tt.wantProxy)
				}
			} else if tt.wantProxy != "" {
				t.Errorf("no proxy, want %q", tt.wantProxy)
			}
			if tt.wantBuilder != "" && o.BuilderImage != tt.wantBuilder {
				t.Errorf("builder image %q, want %q", o.BuilderImage, tt.wantBuilder)
			}
			want := filepath.Join(home, ".ocne", "images", "ock-"+tt.wantOutputFor+"-ostree.tar")
			if o.OutputFile != want {
				t.Errorf("output %q, want %q", o.OutputFile, want)
			}
		})
	}
}

// The builder pod goes through the config's proxy except to what it may
// reach in the cluster by service name.
func TestPodProxy(t *testing.T) {
	tests := []struct {
		name  string
		proxy *httpproxy.Config
		want  *httpproxy.Config
	}{
		{name: "none"},
		{name: "only exceptions", proxy: &httpproxy.Config{NoProxy: "example.com"}},
		{
			name:  "user exceptions first, no duplicates",
			proxy: &httpproxy.Config{HTTPSProxy: "http://p:3128", NoProxy: "registry.lan, .svc"},
			want:  &httpproxy.Config{HTTPSProxy: "http://p:3128", NoProxy: "registry.lan,.svc,localhost,127.0.0.1,.cluster.local"},
		},
		{
			name:  "http only",
			proxy: &httpproxy.Config{HTTPProxy: "http://p:3128"},
			want:  &httpproxy.Config{HTTPProxy: "http://p:3128", NoProxy: "localhost,127.0.0.1,.svc,.cluster.local"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := podProxy(tt.proxy)
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("podProxy(%+v) = %+v, want %+v", tt.proxy, got, tt.want)
			}
		})
	}
}

func TestBuilderPullPolicy(t *testing.T) {
	for _, tt := range []struct {
		version, image string
		want           corev1.PullPolicy
	}{
		{"v1.2.3", builderimage.Default("v1.2.3"), ""},
		{"053e807-dirty", builderimage.Default("053e807-dirty"), corev1.PullAlways},
		{"053e807-dirty", "reg.example.com/b:1", ""},
	} {
		if got := builderPullPolicy(tt.image, tt.version); got != tt.want {
			t.Errorf("version %s, image %s: pull policy %q, want %q", tt.version, tt.image, got, tt.want)
		}
	}
}

// configHome is a fake home with ~/.ocne/file holding content (if any)
// and the arguments with --config pointing at a cluster file (if any), for
// the precedence tests of the commands that read both.
func configHome(t *testing.T, file, content, cluster string, args []string) (string, []string) {
	t.Helper()
	t.Setenv("OCNE_DEFAULTS", "")
	t.Setenv("OCNE_IMAGE_CONFIG", "")
	home := t.TempDir()
	if content != "" {
		os.MkdirAll(filepath.Join(home, ".ocne"), 0o755)
		os.WriteFile(filepath.Join(home, ".ocne", file), []byte(content), 0o644)
	}
	args = append([]string{}, args...)
	if cluster != "" {
		p := filepath.Join(home, "cluster.yaml")
		os.WriteFile(p, []byte(cluster), 0o644)
		args = append(args, "--config", p)
	}
	return home, args
}
