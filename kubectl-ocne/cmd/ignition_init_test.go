package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

const initBase = "name: demo\nloadBalancer: lb.example.com\n"

// completeInit parses args into `ignition init` and runs Complete and
// Validate.
func completeInit(t *testing.T, streams genericiooptions.IOStreams, args ...string) (*IgnitionInitOptions, error) {
	t.Helper()
	home := isolate(t)
	c, o := newCmdIgnitionInit(streams)
	o.node.defaultsDir = home
	parseFlags(t, c, args...)
	if err := o.Complete(c); err != nil {
		return o, err
	}
	return o, o.Validate()
}

func TestIgnitionInitValidate(t *testing.T) {
	cfg := func(yaml string) string { return testFile(t, t.TempDir(), "cluster.yaml", yaml) }
	exists := testFile(t, t.TempDir(), "kubeconfig", "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no config", nil, "--config is required"},
		{"neither virtual IP nor load balancer", []string{"-c", cfg("name: demo\n")}, "needs virtualIp or loadBalancer"},
		{"no name", []string{"-c", cfg("loadBalancer: lb.example.com\n")}, "name the cluster (name: ...)"},
		{"bad name", []string{"-c", cfg("name: Demo_1\nloadBalancer: lb.example.com\n")}, `invalid cluster name "Demo_1"`},
		{"no OCK image for the version", []string{"-c", cfg(initBase), "--version", "1.12"}, "1.12"},
		{"negative workers", []string{"-c", cfg(initBase), "--workers", "-1"}, "--workers -1: want a count of workers, 0 or more"},
		{"kubeconfig exists", []string{"-c", cfg(initBase), "--admin-kubeconfig", exists}, "kubeconfig exists: the cluster's admin kubeconfig was written before"},
		{"a join flag's mistake", []string{"-c", cfg(initBase), "--password-hash", "secret"}, "--password-hash is not a crypt(3) hash"},
		{"fine", []string{"-c", cfg(initBase), "--workers", "2"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := completeInit(t, genericiooptions.NewTestIOStreamsDiscard(), tt.args...)
			checkErr(t, err, tt.want, true)
		})
	}
}

// TestIgnitionInitRun writes the CA, the nodes' configs and the admin
// kubeconfig; a failure on the way removes what it wrote.
func TestIgnitionInitRun(t *testing.T) {
	out := t.TempDir()
	streams, _, stdout, _ := genericiooptions.NewTestIOStreams()
	o, err := completeInit(t, streams, "-c", testFile(t, t.TempDir(), "cluster.yaml", initBase+"workerNodes: 2\n"),
		"--output-file", filepath.Join(out, "cp1.ign"), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if o.WorkersDir != out || o.Workers != 2 {
		t.Errorf("workers %d in %s, want 2 in %s", o.Workers, o.WorkersDir, out)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var res initResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res.Nodes) != 3 || res.AdminKubeconfig != o.AdminKubeconfig {
		t.Errorf("printed %s (%v)", stdout, err)
	}
	for _, p := range []string{filepath.Join(out, "cp1.ign"), filepath.Join(out, "worker-1.ign"), filepath.Join(out, "worker-2.ign"),
		o.AdminKubeconfig, filepath.Join(o.PKIDir, "ca.key")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", p, fi, err)
		}
	}

	// The second worker's file cannot be written: nothing stays.
	out2 := t.TempDir()
	os.Mkdir(filepath.Join(out2, "worker-2.ign"), 0o755)
	o, err = completeInit(t, genericiooptions.NewTestIOStreamsDiscard(), "-c", testFile(t, t.TempDir(), "cluster.yaml", initBase),
		"--output-file", filepath.Join(out2, "cp1.ign"), "--workers", "2", "--pki-dir", filepath.Join(out2, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err == nil {
		t.Fatal("no error")
	}
	entries, _ := os.ReadDir(out2)
	if len(entries) != 1 || entries[0].Name() != "worker-2.ign" {
		t.Errorf("left behind: %v", entries)
	}
	if _, err := os.Stat(o.AdminKubeconfig); err == nil {
		t.Error("the admin kubeconfig was written")
	}
}
