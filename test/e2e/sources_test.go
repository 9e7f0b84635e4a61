package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/test/harness"
)

// createResult is what `create -o json` prints.
type createResult struct{ Output, Source, Commit string }

func parseCreate(t *testing.T, r result) createResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	var res createResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("create -o json: %v\n%s", err, r.stdout)
	}
	return res
}

// assertEmpty fails unless dir (a TMPDIR given to the plugin) is empty.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("left in TMPDIR %s: %v", dir, names)
	}
}

// TestCreateFileSources converts the sample from every kind of file
// source, each copied from the sample image by real skopeo, without
// --os-tag: the file's one image is the image, and it must give back the
// sample's own commit.
func TestCreateFileSources(t *testing.T) {
	s := getSample(t)
	layout := t.TempDir()
	writeSampleImage(t, "oci:"+layout+":1.31", ostreeext.ExportOptions{Layers: 2})
	src, d := "oci:"+layout+":1.31", t.TempDir()
	tests := []struct {
		name   string
		copyTo string // the skopeo copy destination
		source string // --os-registry
		serve  bool   // also serve the result and have libostree pull it
	}{
		{name: "oci-archive", copyTo: "oci-archive:" + d + "/ock.tar", source: "oci-archive:" + d + "/ock.tar"},
		{name: "oci", copyTo: "oci:" + d + "/layout", source: "oci:" + d + "/layout"},
		{name: "dir", copyTo: "dir:" + d + "/dir", source: "dir:" + d + "/dir"},
		{name: "docker-archive", copyTo: "docker-archive:" + d + "/docker.tar:localhost/ock-ostree:1.31", source: "docker-archive:" + d + "/docker.tar"},
		{name: "ostree-unverified-image:oci-archive", copyTo: "oci-archive:" + d + "/named.tar:1.31",
			source: "ostree-unverified-image:oci-archive:" + d + "/named.tar", serve: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			harness.Run(t, "skopeo", "copy", "-q", src, tt.copyTo)
			out, tmp := filepath.Join(t.TempDir(), "ock.tar"), t.TempDir()
			res := parseCreate(t, pluginEnv(t, t.TempDir(), []string{"TMPDIR=" + tmp}, "create", "--local", "--version", "1.31",
				"--os-registry", tt.source, "--output-file", out, "-o", "json"))
			if res.Commit != s.commit {
				t.Errorf("commit %s, want the sample's %s", res.Commit, s.commit)
			}
			assertEmpty(t, tmp)
			if tt.serve {
				verifyArchive(t, out, s.commit)
			}
		})
	}
}

// twoImageFiles writes two different images of the sample commit, named
// 1.31 and 1.32 (the second in two layers), into one OCI layout, and the
// same as an oci-archive (a tar of the layout).
func twoImageFiles(t *testing.T) (layout, archive string) {
	t.Helper()
	layout = t.TempDir()
	writeSampleImage(t, "oci:"+layout+":1.31", ostreeext.ExportOptions{})
	writeSampleImage(t, "oci:"+layout+":1.32", ostreeext.ExportOptions{Layers: 2})
	archive = filepath.Join(t.TempDir(), "two.tar")
	harness.Run(t, "tar", "-cf", archive, "-C", layout, ".")
	return layout, archive
}

// TestCreatePicksOneOfSeveral: a file of several images is refused without
// --os-tag, naming them all, and --os-tag picks one.
func TestCreatePicksOneOfSeveral(t *testing.T) {
	s := getSample(t)
	layout, archive := twoImageFiles(t)
	for _, source := range []string{"oci:" + layout, "oci-archive:" + archive} {
		t.Run(strings.SplitN(source, ":", 2)[0], func(t *testing.T) {
			out, tmp := filepath.Join(t.TempDir(), "out", "ock.tar"), t.TempDir()
			env := []string{"TMPDIR=" + tmp}
			r := pluginEnv(t, t.TempDir(), env, "create", "--local", "--version", "1.31", "--os-registry", source, "--output-file", out)
			msg := strings.TrimSpace(r.stderr)
			want := source + " holds 2 images (1.31, 1.32) and no name was given: choose one with --os-tag"
			if r.code != 1 || !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
				t.Errorf("no tag: exit %d, stderr %q; want exit 1 and one line with %q", r.code, r.stderr, want)
			}
			assertNothingLeft(t, out)
			assertEmpty(t, tmp)

			res := parseCreate(t, pluginEnv(t, t.TempDir(), env, "create", "--local", "--version", "1.32", "--os-registry", source,
				"--os-tag", "1.32", "--output-file", out, "-o", "json"))
			if res.Commit != s.commit || !strings.HasSuffix(res.Source, ":1.32") {
				t.Errorf("--os-tag 1.32: converted %s (commit %s), want the 1.32 image of commit %s", res.Source, res.Commit, s.commit)
			}
			assertEmpty(t, tmp)
		})
	}
}

// breakDiffID copies the OCI layout image src with real skopeo into a new
// layout and edits the copy's config: rootfs.diff_ids[i] becomes another
// digest, and the manifest and index are rewritten to the new config's
// digest, so only the diff ID check can notice. It returns the layout and
// the error that check must give.
func breakDiffID(t *testing.T, src string, i int) (layout, wantErr string) {
	t.Helper()
	dir := t.TempDir()
	harness.Run(t, "skopeo", "copy", "-q", src, "oci:"+dir+":1.31")
	readJSON := func(path string, v any) {
		raw, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(raw, v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	blob := func(d digest.Digest) string { return filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()) }
	putBlob := func(v any) imgspecv1.Descriptor {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		d := digest.FromBytes(raw)
		if err := os.WriteFile(blob(d), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return imgspecv1.Descriptor{Digest: d, Size: int64(len(raw))}
	}
	var index imgspecv1.Index
	readJSON(filepath.Join(dir, "index.json"), &index)
	var m imgspecv1.Manifest
	readJSON(blob(index.Manifests[0].Digest), &m)
	var cfg map[string]any // as it is, whatever fields it has
	readJSON(blob(m.Config.Digest), &cfg)
	diffIDs := cfg["rootfs"].(map[string]any)["diff_ids"].([]any)
	wantErr = fmt.Sprintf("layer %d (%s): uncompressed content is %s, but the image config's rootfs.diff_ids says %s",
		i+1, m.Layers[i].Digest, diffIDs[i], digest.FromString("not the layer's content"))
	diffIDs[i] = digest.FromString("not the layer's content").String()
	d := putBlob(cfg)
	m.Config.Digest, m.Config.Size = d.Digest, d.Size
	d = putBlob(m)
	index.Manifests[0].Digest, index.Manifests[0].Size = d.Digest, d.Size
	raw, _ := json.Marshal(index)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, wantErr
}

// TestUploadPicksImage: upload reads a file of one image as it is; of
// several it copies the one --file names, and refuses to guess.
func TestUploadPicksImage(t *testing.T) {
	layout, archive := twoImageFiles(t)
	tests := []struct {
		name       string
		file       string
		wantLayers int    // of the uploaded image: tells 1.31 from 1.32
		wantErr    string // the one line, exit 1
	}{
		{name: "one of several, by tag", file: "oci-archive:" + archive + ":1.32", wantLayers: 2},
		{name: "oci layout, by name", file: "oci:" + layout + ":1.31", wantLayers: 1},
		{name: "several and no name", file: archive,
			wantErr: "holds 2 images (1.31, 1.32) and no name was given: choose one with --file oci-archive:FILE:NAME"},
		{name: "name not in the file", file: "oci-archive:" + archive + ":9.99", wantErr: `has no image "9.99"; it holds 1.31, 1.32`},
		{name: "missing file", file: "oci-archive:/nonexistent/ock.tar", wantErr: "/nonexistent/ock.tar: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := "oci:" + t.TempDir() + ":x"
			r := plugin(t, t.TempDir(), "upload", "--file", tt.file, "--destination", dest)
			if tt.wantErr != "" {
				if r.code != 1 || !strings.Contains(r.stderr, tt.wantErr) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("exit %d, stderr %q; want exit 1 and one line with %q", r.code, r.stderr, tt.wantErr)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("upload: exit %d: %s", r.code, r.stderr)
			}
			var info struct{ Layers []string }
			if err := json.Unmarshal([]byte(harness.Run(t, "skopeo", "inspect", dest)), &info); err != nil {
				t.Fatal(err)
			}
			if len(info.Layers) != tt.wantLayers {
				t.Errorf("uploaded an image of %d layers, want %d", len(info.Layers), tt.wantLayers)
			}
		})
	}
}

// TestEncapsulateToFiles: an image encapsulated into a file without a name
// is the file's one image, which create reads without --os-tag; a second
// image in the same layout makes create ask which, and the digest
// encapsulate printed picks it.
func TestEncapsulateToFiles(t *testing.T) {
	s := getSample(t)
	d := t.TempDir()
	create := func(args ...string) result {
		out := filepath.Join(t.TempDir(), "ock.tar")
		return plugin(t, t.TempDir(), append([]string{"create", "--local", "--version", "1.31", "--output-file", out, "-o", "json"}, args...)...)
	}
	layout := "oci:" + d + "/layout"
	for _, dest := range []string{layout, "oci-archive:" + d + "/ock.tar"} {
		if r := plugin(t, t.TempDir(), "encapsulate", "--repo", s.repo, "--ref", "ock", dest); r.code != 0 {
			t.Fatalf("encapsulate %s: exit %d: %s", dest, r.code, r.stderr)
		}
		if res := parseCreate(t, create("--os-registry", dest)); res.Commit != s.commit {
			t.Errorf("%s: commit %s, want %s", dest, res.Commit, s.commit)
		}
	}

	r := plugin(t, t.TempDir(), "encapsulate", "--repo", s.repo, "--ref", "ock", "--layers", "3", "-o", "json", layout)
	var enc struct{ Digest string }
	if err := json.Unmarshal([]byte(r.stdout), &enc); r.code != 0 || err != nil {
		t.Fatalf("encapsulate a second image: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	r = create("--os-registry", layout)
	if r.code != 1 || !strings.Contains(r.stderr, "holds 2 images") || !strings.Contains(r.stderr, enc.Digest) {
		t.Errorf("two unnamed images: exit %d, stderr %q; want exit 1 naming %s", r.code, r.stderr, enc.Digest)
	}
	if res := parseCreate(t, create("--os-registry", layout, "--os-tag", enc.Digest)); res.Commit != s.commit || !strings.HasSuffix(res.Source, ":@1") {
		t.Errorf("--os-tag %s: converted %s (commit %s), want the second image", enc.Digest, res.Source, res.Commit)
	}
}
