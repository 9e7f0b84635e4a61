package workdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSweep: a directory whose process died (its lock is free) is removed
// by the next Create; one whose process lives is not.
func TestSweep(t *testing.T) {
	parent := t.TempDir()
	live, err := Create(parent, ".work-")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Remove()

	// A dead process's directory: created by a child that exits without
	// cleaning up, as a SIGKILLed one would.
	if os.Getenv("WORKDIR_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=TestChild")
		cmd.Env = append(os.Environ(), "WORKDIR_CHILD="+parent)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v: %s", err, out)
		}
	}
	before, _ := filepath.Glob(filepath.Join(parent, ".work-*"))
	if len(before) != 2 {
		t.Fatalf("before: %v, want the live one and the dead one", before)
	}
	// Not ours: no lock file.
	foreign := filepath.Join(parent, ".work-foreign")
	os.Mkdir(foreign, 0o755)

	next, err := Create(parent, ".work-")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := filepath.Glob(filepath.Join(parent, ".work-*"))
	want := map[string]bool{live.Path: true, next.Path: true, foreign: true}
	if len(after) != len(want) {
		t.Errorf("after: %v, want %v", after, want)
	}
	for _, a := range after {
		if !want[a] {
			t.Errorf("%s survived", a)
		}
	}
	if err := next.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(next.Path); !os.IsNotExist(err) {
		t.Errorf("%s not removed", next.Path)
	}
}

// TestChild is the child process of TestSweep: it makes a work directory
// and exits holding it.
func TestChild(t *testing.T) {
	parent := os.Getenv("WORKDIR_CHILD")
	if parent == "" {
		t.Skip("run by TestSweep")
	}
	if _, err := Create(parent, ".work-"); err != nil {
		t.Fatal(err)
	}
}
