package archiverepo

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/test/harness"
)

// TestStreamMatchesRepo copies a repository libostree wrote into a Repo
// and, from several goroutines at once and with every object given twice,
// into a Stream whose spool holds only 1 KiB in memory; unpacked, the
// stream must hold the same files, byte for byte, and pass libostree's
// fsck.
func TestStreamMatchesRepo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds its repository with ostree")
	}
	srcDir, commit := realCommit(t)
	src, err := Open(srcDir)
	if err != nil {
		t.Fatal(err)
	}
	dirRepo, err := Create(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tmp := t.TempDir()
	stream, err := NewStream(&layer, "/srv/ostree/", time.Unix(1700000000, 0), tmp)
	if err != nil {
		t.Fatal(err)
	}
	stream.spoolLimit = 1 << 10

	type obj struct {
		t ostree.ObjectType
		c ostree.Checksum
	}
	var objs []obj
	if _, err := Walk(src, commit, func(_ string, typ ostree.ObjectType, c ostree.Checksum) error {
		objs = append(objs, obj{typ, c})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	objs = append(objs, obj{ostree.ObjCommit, commit})
	copyTo := func(dst interface {
		store
		SetRef(string, ostree.Checksum) error
	}, o obj) error {
		if o.t != ostree.ObjFileZ {
			b, err := src.ReadMetadata(o.t, o.c)
			if err != nil {
				return err
			}
			return dst.WriteMetadata(o.t, o.c, b)
		}
		content, err := src.OpenContent(o.c)
		if err != nil {
			return err
		}
		defer content.Close()
		return dst.WriteContent(o.c, content.Header, content.Size, content)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(objs))
	for _, o := range objs {
		if err := copyTo(dirRepo, o); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- copyTo(stream, o)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []interface {
		SetRef(string, ostree.Checksum) error
	}{dirRepo, stream} {
		if err := r.SetRef("ock/x86_64", commit); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("spool files left in %s: %v", tmp, left)
	}
	for _, o := range objs {
		if o.t != ostree.ObjFileZ {
			continue
		}
		want, err := dirRepo.ContentHeader(o.c)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := stream.ContentHeader(o.c); err != nil || got.Mode != want.Mode || len(got.Xattrs) != len(want.Xattrs) {
			t.Errorf("ContentHeader(%s) = %+v, %v; want %+v", o.c, got, err, want)
		}
	}

	unpacked := t.TempDir()
	tr := tar.NewReader(&layer)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if names[h.Name] {
			t.Errorf("%s twice in the stream", h.Name)
		}
		names[h.Name] = true
		rel, ok := strings.CutPrefix(h.Name, "srv/ostree/")
		if !ok {
			if h.Name != "srv/" && h.Name != "srv/ostree/" {
				t.Errorf("entry %s outside the prefix", h.Name)
			}
			continue
		}
		p := filepath.Join(unpacked, rel)
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The same files as the repository on disk, less its scratch dirs.
	files := func(root string) map[string]string {
		m := map[string]string{}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			rel, _ := filepath.Rel(root, p)
			if err != nil || rel == "tmp" || rel == "state" {
				return fs.SkipDir
			}
			if !d.IsDir() {
				b, _ := os.ReadFile(p)
				m[rel] = string(b)
			}
			return nil
		})
		return m
	}
	want, got := files(dirRepo.Dir()), files(unpacked)
	for name, data := range want {
		if got[name] != data {
			t.Errorf("%s: %d bytes in the stream, %d in the repository", name, len(got[name]), len(data))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s in the stream only", name)
		}
	}
	harness.Run(t, "ostree", "--repo="+unpacked, "fsck")
	if got := harness.Run(t, "ostree", "--repo="+unpacked, "rev-parse", "ock/x86_64"); got != commit.String() {
		t.Errorf("ref ock/x86_64 = %s, want %s", got, commit)
	}
}
