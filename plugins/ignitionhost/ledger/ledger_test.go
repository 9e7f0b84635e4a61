package ledger

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
)

func TestLedger(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "published")
	l, err := Open(dir, "http-put", "https://a.example/ign/")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Open(dir, "http-put", "https://b.example/ign/")
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []ignitionhost.Entry{{Name: "b", URL: "u1"}, {Name: "a", Expires: exp}, {Name: "b", URL: "u2"}} {
		if err := l.Put(e); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := l.Entries()
	if err != nil || len(entries) != 2 || entries[0].Name != "a" || !entries[0].Expires.Equal(exp) || entries[1].URL != "u2" {
		t.Errorf("entries %+v %v", entries, err)
	}
	if e, _ := other.Entries(); len(e) != 0 {
		t.Errorf("another target's ledger sees %v", e)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, l.Path(): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v (%v)", path, fi.Mode(), want, err)
		}
	}
	if err := l.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.Get("a"); ok {
		t.Error("a still recorded")
	}
	os.WriteFile(l.Path(), []byte("{"), 0o600)
	if _, err := l.Entries(); err == nil {
		t.Error("a corrupt ledger reads")
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}
