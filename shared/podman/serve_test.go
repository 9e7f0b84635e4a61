package podman

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMakeDirsUndo: undo removes exactly what MakeDirs created, and a
// directory the user already had keeps its mode.
func TestMakeDirsUndo(t *testing.T) {
	base := t.TempDir()
	own := filepath.Join(base, "own-ks")
	os.Mkdir(own, 0o750)
	made := filepath.Join(base, "new", "serve", "ignition")
	undo, err := MakeDirs(Dir{Path: own, Mode: 0o755}, Dir{Path: made, Mode: 0o700})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(made); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%s: %v %v, want mode 0700", made, fi, err)
	}
	if fi, _ := os.Stat(own); fi.Mode().Perm() != 0o750 {
		t.Errorf("the user's directory changed mode to %v", fi.Mode().Perm())
	}
	undo()
	if _, err := os.Stat(filepath.Join(base, "new")); !os.IsNotExist(err) {
		t.Errorf("undo left %s/new: %v", base, err)
	}
	if _, err := os.Stat(own); err != nil {
		t.Errorf("undo removed the user's directory: %v", err)
	}
}
