package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/shared/ostreeext"
)

// TestDeprecatedSpellings runs a real local create with the spellings the
// flag contract replaced: it still writes the file and prints the JSON,
// and says on stderr (never stdout) what to type instead.
func TestDeprecatedSpellings(t *testing.T) {
	s := getSample(t)
	layout := t.TempDir()
	writeSampleImage(t, "oci:"+layout+":1.31", ostreeext.ExportOptions{})
	out := filepath.Join(t.TempDir(), "ock.tar")
	auth := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(auth, []byte(`{"auths": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := plugin(t, t.TempDir(), "create", "--local", "--version", "1.31", "--os-registry", "oci:"+layout,
		"-o", out, "--output-format", "json", "--registry-auth", auth)
	res := parseCreate(t, r)
	if res.Output != out || res.Commit != s.commit {
		t.Errorf("result %+v, want output %s, commit %s", res, out, s.commit)
	}
	if _, err := os.Stat(out); err != nil {
		t.Error(err)
	}
	for _, want := range []string{
		"warning: -o FILE is deprecated; use --output-file FILE\n",
		"Flag --output-format has been deprecated, use -o/--output\n",
		"Flag --registry-auth has been deprecated, use --authfile\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
