package archiverepo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/test/harness"
)

// realCommit commits a small tree with the real ostree CLI into an archive
// repository and returns the repository and the commit checksum.
func realCommit(t *testing.T) (string, ostree.Checksum) {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for _, d := range []string{"usr/etc", "a/b", "a/ünï"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{"a/f": "hello\n", "a/empty": "", "a/ünï/x": strings.Repeat("abc", 100000)}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tree, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../x//y", filepath.Join(tree, "a/l")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(tree, "a/f"), 0o4755); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct{ path, name, value string }{
		{"a/f", "user.zz", "v2"}, {"a/f", "user.aa", "v1"}, {"a/b", "user.d", "dirx"},
	} {
		if err := syscall.Setxattr(filepath.Join(tree, x.path), x.name, []byte(x.value), 0); err != nil {
			t.Fatal(err)
		}
	}
	repo := filepath.Join(dir, "repo")
	harness.Run(t, "ostree", "--repo="+repo, "init", "--mode=archive")
	out := harness.Run(t, "ostree", "--repo="+repo, "commit", "--branch=ock", "--tree=dir="+tree,
		"--subject=test", "--add-metadata-string=version=1.31", "--timestamp=2024-01-01T00:00:00Z")
	c, err := ostree.ParseChecksum(out)
	if err != nil {
		t.Fatal(err)
	}
	return repo, c
}

// TestCopyRealRepository reads every object of a repository libostree wrote,
// checks our encoders reproduce its bytes, copies it through our writer and
// has libostree verify and pull the copy.
func TestCopyRealRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds its repository with ostree")
	}
	for _, named := range []bool{false, true} {
		t.Run(map[bool]string{false: "anonymous temp files", true: "named temp files"}[named], func(t *testing.T) {
			testCopyRealRepository(t, named)
		})
	}
}

func testCopyRealRepository(t *testing.T, namedTemps bool) {
	srcDir, commit := realCommit(t)
	src, err := Open(srcDir)
	if err != nil {
		t.Fatal(err)
	}
	dstDir := filepath.Join(t.TempDir(), "archive")
	dst, err := Create(dstDir)
	if err != nil {
		t.Fatal(err)
	}
	dst.noTmpfile.Store(namedTemps) // as on filesystems without O_TMPFILE
	var files, dirs int
	copyObj := func(p string, typ ostree.ObjectType, c ostree.Checksum) error {
		if typ != ostree.ObjFileZ {
			b, err := src.ReadMetadata(typ, c)
			if err != nil {
				return err
			}
			var again []byte
			if typ == ostree.ObjDirTree {
				dirs++
				d, err := ostree.ParseDirTree(b)
				if err != nil {
					return err
				}
				again = d.Marshal()
			} else {
				d, err := ostree.ParseDirMeta(b)
				if err != nil {
					return err
				}
				again = d.Marshal()
			}
			if !bytes.Equal(again, b) {
				t.Errorf("%s %s (%s): re-encoding differs:\n got %x\nwant %x", typ, c, p, again, b)
			}
			return dst.WriteMetadata(typ, c, b)
		}
		files++
		obj, err := src.OpenContent(c)
		if err != nil {
			return err
		}
		defer obj.Close()
		return dst.WriteContent(c, obj.Header, obj.Size, obj)
	}
	cm, err := Walk(src, commit, copyObj)
	if err != nil {
		t.Fatal(err)
	}
	if files != 4 || dirs != 6 {
		t.Errorf("walked %d files and %d dirs, want 4 and 6", files, dirs)
	}
	if v, _ := cm.Metadata.Get("version"); v.Type != "s" {
		t.Errorf("version metadata = %+v", v)
	}
	cb, err := src.ReadMetadata(ostree.ObjCommit, commit)
	if err != nil {
		t.Fatal(err)
	}
	if again := cm.Marshal(); !bytes.Equal(again, cb) {
		t.Errorf("commit re-encoding differs:\n got %x\nwant %x", again, cb)
	}
	if err := dst.WriteMetadata(ostree.ObjCommit, commit, cb); err != nil {
		t.Fatal(err)
	}
	// A ref moves: set it twice.
	if err := dst.SetRef("ock", ostree.SumBytes(nil)); err != nil {
		t.Fatal(err)
	}
	if err := dst.SetRef("ock", commit); err != nil {
		t.Fatal(err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dstDir, "*", "*", ".tmp-*")); len(leftovers) != 0 {
		t.Errorf("temp files left: %v", leftovers)
	}

	harness.Run(t, "ostree", "--repo="+dstDir, "fsck")
	pulled := filepath.Join(t.TempDir(), "pulled")
	harness.Run(t, "ostree", "--repo="+pulled, "init", "--mode=bare-user")
	harness.Run(t, "ostree", "--repo="+pulled, "pull-local", dstDir, "ock")
	if got := harness.Run(t, "ostree", "--repo="+pulled, "rev-parse", "ock"); got != commit.String() {
		t.Errorf("pulled commit %s, want %s", got, commit)
	}
	harness.Run(t, "ostree", "--repo="+pulled, "fsck")
	xattrs := harness.Run(t, "ostree", "--repo="+pulled, "ls", "-X", "ock", "/a/f")
	if !strings.Contains(xattrs, "user.aa") || !strings.Contains(xattrs, "user.zz") {
		t.Errorf("xattrs lost: %s", xattrs)
	}
}

// store is what Repo and Stream have in common for writing.
type store interface {
	Has(ostree.Checksum, ostree.ObjectType) bool
	WriteContent(ostree.Checksum, *ostree.FileHeader, int64, io.Reader) error
	WriteMetadata(ostree.ObjectType, ostree.Checksum, []byte) error
}

func TestWriteRejectsCorruptObjects(t *testing.T) {
	repo, err := Create(filepath.Join(t.TempDir(), "r"))
	if err != nil {
		t.Fatal(err)
	}
	var streamed bytes.Buffer
	stream, err := NewStream(&streamed, "ostree", time.Unix(0, 0), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	empty := streamed.Len() // the directories
	for _, s := range []struct {
		name string
		store
		leftovers func() []string
	}{
		{"repo", repo, func() []string {
			l, _ := filepath.Glob(filepath.Join(repo.Dir(), "objects", "*", ".tmp-*"))
			return l
		}},
		{"stream", stream, func() []string {
			if streamed.Len() != empty {
				return []string{fmt.Sprintf("%d bytes in the stream", streamed.Len()-empty)}
			}
			return nil
		}},
	} {
		t.Run(s.name, func(t *testing.T) { testRejectsCorruptObjects(t, s.store, s.leftovers) })
	}
}

func testRejectsCorruptObjects(t *testing.T, repo store, leftovers func() []string) {
	h := &ostree.FileHeader{Mode: ostree.ModeRegular | 0o644}
	good := ostree.NewContentHash(h)
	good.Write([]byte("data"))
	sum := ostree.SumHash(good)

	tests := []struct {
		name    string
		write   func() error
		wantErr error
	}{
		{"content hashes differently", func() error {
			return repo.WriteContent(sum, h, 4, strings.NewReader("dat!"))
		}, ErrChecksum},
		{"content shorter than header says", func() error {
			return repo.WriteContent(sum, h, 5, strings.NewReader("data"))
		}, io.ErrUnexpectedEOF},
		{"metadata hashes differently", func() error {
			return repo.WriteMetadata(ostree.ObjDirTree, sum, []byte("not it"))
		}, ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if repo.Has(sum, ostree.ObjFileZ) || repo.Has(sum, ostree.ObjDirTree) {
				t.Error("a rejected object was stored")
			}
			if l := leftovers(); len(l) != 0 {
				t.Errorf("left behind: %v", l)
			}
		})
	}
	if err := repo.WriteContent(sum, h, 4, strings.NewReader("data")); err != nil {
		t.Fatalf("good object: %v", err)
	}
}
