// Package e2e runs the built plugin against real parts: the Debian
// docker-registry, Podman in a private storage root, our archive server in
// a container, and libostree pulling and deploying from it.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/fixture"
	"github.com/ocne-image/ocne-image/test/harness"
)

func pluginBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(harness.RepoRoot(t), "bin", "kubectl-ocne_image")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run `make build` first (make test does)", bin)
	}
	return bin
}

// result is one run of the plugin.
type result struct {
	code           int
	stdout, stderr string
}

// plugin runs the plugin with HOME pointing at home.
func plugin(t *testing.T, home string, args ...string) result {
	t.Helper()
	return pluginEnv(t, home, nil, args...)
}

// pluginEnv is plugin with the environment variables env (NAME=VALUE).
func pluginEnv(t *testing.T, home string, env []string, args ...string) result {
	t.Helper()
	return runPlugin(t, pluginBinary(t), home, env, args...)
}

// runPlugin is pluginEnv with the plugin binary bin (e.g. a copy of it).
func runPlugin(t *testing.T, bin, home string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	// Only clusters and configuration files a test names: never the
	// developer's own.
	cmd.Env = append(append(os.Environ(), "HOME="+home, "KUBECONFIG=", "OCNE_DEFAULTS=", "OCNE_IMAGE_CONFIG="), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run plugin: %v", err)
	}
	return r
}

// sample is the fixture commit the tests share: the full tree, with a file
// over 50 MB, committed by the real ostree.
type sample struct{ dir, repo, commit string }

var buildSample = sync.OnceValues(func() (*sample, error) {
	dir, err := os.MkdirTemp("", "e2e-sample-")
	if err != nil {
		return nil, err
	}
	repo, commit, err := fixture.Build(context.Background(), dir, fixture.TreeOptions{BigFileSize: 51 << 20, ExtraFiles: 300})
	return &sample{dir: dir, repo: repo, commit: commit}, err
})

func TestMain(m *testing.M) {
	harness.ExitIfShort("end-to-end tests run the binaries against real peers")
	code := m.Run()
	if s, err := buildSample(); err == nil {
		os.RemoveAll(s.dir)
	}
	os.Exit(code)
}

func getSample(t *testing.T) *sample {
	t.Helper()
	s, err := buildSample()
	if err != nil {
		t.Fatalf("build sample: %v", err)
	}
	return s
}

// encapsulateSample exports the sample commit; its layer files live in a
// test temp dir.
func encapsulateSample(t *testing.T, opts ostreeext.ExportOptions) ociarchive.Build {
	t.Helper()
	s := getSample(t)
	opts.TempDir = t.TempDir()
	b, err := fixture.Encapsulate(context.Background(), s.repo, s.commit, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeSampleImage encapsulates the sample commit and writes it to dest.
func writeSampleImage(t *testing.T, dest string, opts ostreeext.ExportOptions) {
	t.Helper()
	b := encapsulateSample(t, opts)
	defer b.RemoveLayerFiles()
	if err := fixture.WriteImage(context.Background(), dest, b); err != nil {
		t.Fatalf("write %s: %v", dest, err)
	}
}

// verifyArchive loads an archive server image into a private Podman, runs
// it the documented way and has libostree pull and fsck the commit.
func verifyArchive(t *testing.T, tarPath, commit string) {
	t.Helper()
	verifyArchiveRef(t, tarPath, "ock", commit)
}

// verifyArchiveRef is verifyArchive for a commit served as ref.
func verifyArchiveRef(t *testing.T, tarPath, ref, commit string) {
	t.Helper()
	p := harness.NewPodman(t)
	p.Run("load", "-i", tarPath)
	port := harness.FreePort(t)
	p.Run("run", "-d", "-p", fmt.Sprintf("%d:80", port), "localhost/ock-ostree:latest")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	harness.WaitHTTP(t, base+"/healthz", 20*time.Second)
	repo := filepath.Join(t.TempDir(), "repo")
	harness.Run(t, "ostree", "--repo="+repo, "init", "--mode=bare-user")
	harness.Run(t, "ostree", "--repo="+repo, "remote", "add", "--no-gpg-verify", "ock", base+"/ostree")
	harness.Run(t, "ostree", "--repo="+repo, "pull", "ock", ref)
	if got := harness.Run(t, "ostree", "--repo="+repo, "rev-parse", "ock:"+ref); got != commit {
		t.Errorf("pulled commit %s, want %s", got, commit)
	}
	harness.Run(t, "ostree", "--repo="+repo, "fsck")
}
