package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/test/fixture"
	"github.com/ocne-image/ocne-image/test/harness"
)

// TestEncapsulateThenCreate publishes a commit the real ostree made as a
// chunked image in a registry, then builds the archive from it: the commit
// must survive the round trip.
func TestEncapsulateThenCreate(t *testing.T) {
	s := getSample(t)
	reg := harness.StartRegistry(t)
	dest := "docker://" + reg + "/custom/ock:1.31"
	r := plugin(t, t.TempDir(), "encapsulate", "--repo", s.repo, "--ref", "ock", "--layers", "5",
		"--compression", "zstd", "--label", "vendor=me", "--tls-verify=false", "-o", "json", dest)
	if r.code != 0 {
		t.Fatalf("encapsulate: exit %d: %s", r.code, r.stderr)
	}
	var res struct {
		Commit string
		Layers int
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Commit != s.commit || res.Layers != 5 {
		t.Fatalf("encapsulate result %q (%v)", r.stdout, err)
	}
	var info struct{ Labels map[string]string }
	json.Unmarshal([]byte(harness.Run(t, "skopeo", "inspect", "--tls-verify=false", dest)), &info)
	if info.Labels["ostree.commit"] != s.commit || info.Labels["vendor"] != "me" || info.Labels["ostree.bootable"] != "true" {
		t.Errorf("labels: %v", info.Labels)
	}

	out := filepath.Join(t.TempDir(), "ock.tar")
	r = plugin(t, t.TempDir(), "create", "--local", "--version", "1.31", "--os-registry", "docker://"+reg+"/custom/ock",
		"--tls-verify=false", "--output-file", out, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, s.commit) {
		t.Fatalf("create: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}

func TestEncapsulateBadInput(t *testing.T) {
	s := getSample(t)
	bareUser := filepath.Join(t.TempDir(), "bare")
	if _, err := fixture.Commit(t.Context(), bareUser, "bare-user", filepath.Join(s.dir, "tree"), "ock"); err != nil {
		t.Fatal(err)
	}
	dest := "oci:" + t.TempDir() + ":x"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"not an archive repository", []string{"--repo", bareUser, dest}, 1, `mode "bare-user" is not an archive repository`},
		{"no such ref", []string{"--repo", s.repo, "--ref", "nope", dest}, 1, `ref "nope" not found`},
		{"no such repository", []string{"--repo", "/nonexistent", dest}, 1, "no such file or directory"},
		{"bad layer count", []string{"--repo", s.repo, "--layers", "0", dest}, 2, "invalid --layers"},
		{"bad compression", []string{"--repo", s.repo, "--compression", "lz4", dest}, 2, "unknown layer compression"},
		{"bad destination", []string{"--repo", s.repo, "nowhere"}, 2, "invalid image reference"},
		{"no destination", []string{"--repo", s.repo}, 2, "accepts 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := plugin(t, t.TempDir(), append([]string{"encapsulate"}, tt.args...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantErr) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", r.code, r.stderr, tt.wantCode, tt.wantErr)
			}
		})
	}
}
