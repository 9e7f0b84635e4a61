package e2e

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/shared/ostreeext"
)

// TestCreateStaticDeltaFlag: create writes the static delta (summary,
// superblock, part recipes in the repository's ocne-delta/) by default and
// none with --static-delta=false.
func TestCreateStaticDeltaFlag(t *testing.T) {
	layout := t.TempDir()
	writeSampleImage(t, "oci:"+layout+":1.31", ostreeext.ExportOptions{})
	for _, tc := range []struct {
		args []string
		want bool
	}{{nil, true}, {[]string{"--static-delta=false"}, false}} {
		out := filepath.Join(t.TempDir(), "ock.tar")
		r := plugin(t, t.TempDir(), append([]string{"create", "--local", "--version", "1.31", "--os-registry", "oci:" + layout, "--output-file", out}, tc.args...)...)
		if r.code != 0 {
			t.Fatalf("create %q: exit %d: %s", tc.args, r.code, r.stderr)
		}
		names := layerNames(t, out)
		var delta []string
		for _, n := range names {
			if strings.Contains(n, "/ostree/ocne-delta/") {
				delta = append(delta, n)
			}
		}
		if got := len(delta) > 0; got != tc.want {
			t.Errorf("create %q: delta files %q, want some: %v", tc.args, delta, tc.want)
		}
		if tc.want && !containsSuffix(delta, "/ocne-delta/summary") {
			t.Errorf("create %q: no summary among %q", tc.args, delta)
		}
	}
}

// layerNames lists the entries of every layer of an OCI archive.
func layerNames(t *testing.T, archive string) []string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h.Name, "blobs/") || h.Size < 1024 {
			continue
		}
		lr := tar.NewReader(tr)
		for {
			lh, err := lr.Next()
			if err != nil {
				break // the end, or a blob that is not a layer
			}
			names = append(names, lh.Name)
		}
	}
}

func containsSuffix(ss []string, suffix string) bool {
	for _, s := range ss {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}
