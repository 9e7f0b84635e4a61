package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/harness"
)

// createSampleArchive runs create on the sample and returns the tar.
func createSampleArchive(t *testing.T) string {
	t.Helper()
	layout := t.TempDir()
	writeSampleImage(t, "oci:"+layout+":1.31", ostreeext.ExportOptions{})
	out := filepath.Join(t.TempDir(), "ock-1.31-amd64-ostree.tar")
	if r := plugin(t, t.TempDir(), "create", "--local", "--version", "1.31", "--os-registry", "oci:"+layout, "--output-file", out); r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	return out
}

// TestUpload copies the archive server image to every kind of destination
// and checks each with an independent client.
func TestUpload(t *testing.T) {
	s := getSample(t)
	file := createSampleArchive(t)
	reg := harness.StartRegistry(t)
	dir := t.TempDir()
	storage := "[vfs@" + dir + "/root+" + dir + "/run]"
	tests := []struct {
		dest    string
		inspect []string // skopeo inspect arguments
	}{
		{"docker://" + reg + "/ock/ock-ostree:1.31", []string{"--tls-verify=false", "docker://" + reg + "/ock/ock-ostree:1.31"}},
		{"oci:" + dir + "/layout:1.31", []string{"oci:" + dir + "/layout:1.31"}},
		{"oci-archive:" + dir + "/ock.tar:1.31", []string{"oci-archive:" + dir + "/ock.tar:1.31"}},
		{"docker-archive:" + dir + "/docker.tar:localhost/ock-ostree:1.31", []string{"docker-archive:" + dir + "/docker.tar"}},
		{"dir:" + dir + "/dir", []string{"dir:" + dir + "/dir"}},
		{"containers-storage:" + storage + "localhost/ock-ostree:1.31", []string{"containers-storage:" + storage + "localhost/ock-ostree:1.31"}},
	}
	for _, tt := range tests {
		t.Run(strings.SplitN(tt.dest, ":", 2)[0], func(t *testing.T) {
			r := plugin(t, t.TempDir(), "upload", "--type", "ostree", "--file", file, "--destination", tt.dest, "--arch", "amd64", "--tls-verify=false")
			if r.code != 0 {
				t.Fatalf("upload: exit %d: %s", r.code, r.stderr)
			}
			var info struct{ Labels map[string]string }
			if err := json.Unmarshal([]byte(harness.Run(t, "skopeo", append([]string{"inspect"}, tt.inspect...)...)), &info); err != nil {
				t.Fatal(err)
			}
			if info.Labels["ostree.commit"] != s.commit {
				t.Errorf("uploaded image labels %v, want ostree.commit %s", info.Labels, s.commit)
			}
		})
	}
}

// TestUploadOcneFlags uploads the way `ocne image upload --type ostree`
// is typed, short flags and a patch version included.
func TestUploadOcneFlags(t *testing.T) {
	file := createSampleArchive(t)
	dir := t.TempDir()
	r := plugin(t, t.TempDir(), "upload", "-t", "ostree", "-f", file, "-d", "oci:"+dir+":1.31", "-a", "amd64", "--version", "v1.31.4")
	if r.code != 0 || r.stderr != "note: Kubernetes version v1.31.4 taken as 1.31: OCK images are built per minor version\n" {
		t.Fatalf("upload: exit %d: %q", r.code, r.stderr)
	}
	harness.Run(t, "skopeo", "inspect", "oci:"+dir+":1.31")
}

func TestUploadBadInput(t *testing.T) {
	file := createSampleArchive(t)
	notTar := filepath.Join(t.TempDir(), "x.tar")
	os.WriteFile(notTar, []byte("this is not a tar file, honest"), 0o644)
	dest := "oci:" + t.TempDir() + ":x"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"missing file", []string{"--file", "/nonexistent.tar", "--destination", dest}, 1, "no such file"},
		{"not an image archive", []string{"--file", notTar, "--destination", dest}, 1, "not an image archive"},
		{"other arch", []string{"--file", file, "--destination", dest, "--arch", "arm64"}, 1, "archive for amd64, not arm64"},
		{"other version", []string{"--file", file, "--destination", dest, "--version", "1.32"}, 1, `archive for Kubernetes "1.31", not 1.32`},
		{"ocne's OCI flag", []string{"-f", file, "-d", dest, "--bucket", "images"}, 2, "--bucket is for ocne's uploads to OCI object storage"},
		{"no transport", []string{"--file", file, "--destination", "myregistry.example.com/ock:1"}, 2, "invalid image reference"},
		{"no destination", []string{"--file", file}, 2, "--file and --destination are required"},
		{"bad type", []string{"--type", "iso", "--file", file, "--destination", dest}, 2, "unsupported --type"},
		{"unreachable registry", []string{"--file", file, "--destination", "docker://127.0.0.1:1/x:1"}, 1, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := plugin(t, t.TempDir(), append([]string{"upload"}, tt.args...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantErr) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", r.code, r.stderr, tt.wantCode, tt.wantErr)
			}
		})
	}
}
