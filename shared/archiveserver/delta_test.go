package archiveserver

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostree/staticdelta"
)

// deltaRepo writes an archive repository at root/ostree with a planned
// delta (parts as recipes) and returns the delta.
func deltaRepo(t *testing.T, root string) *staticdelta.Delta {
	t.Helper()
	dir := filepath.Join(root, "ostree")
	repo, err := archiverepo.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	tree := &ostree.DirTree{}
	for i, size := range []int{0, 100, 5000, 70 << 10, 300 << 10, 20 << 10} {
		data := bytes.Repeat([]byte{byte(i), byte(i * 7)}, size/2)
		h := &ostree.FileHeader{Mode: ostree.ModeRegular | 0o644}
		if i == 5 {
			h = &ostree.FileHeader{Mode: ostree.ModeSymlink | 0o777, SymlinkTarget: "f1"}
			data = nil
		}
		c, err := repo.AddContent(h, int64(len(data)), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		tree.Files = append(tree.Files, ostree.TreeFile{Name: fmt.Sprintf("f%d", i), Checksum: c})
	}
	meta := (&ostree.DirMeta{Mode: 0o40755}).Marshal()
	tb := tree.Marshal()
	commit := (&ostree.Commit{Subject: "t", RootTree: ostree.SumBytes(tb), RootMeta: ostree.SumBytes(meta)}).Marshal()
	for _, o := range []struct {
		t ostree.ObjectType
		b []byte
	}{{ostree.ObjDirMeta, meta}, {ostree.ObjDirTree, tb}, {ostree.ObjCommit, commit}} {
		if err := repo.WriteMetadata(o.t, ostree.SumBytes(o.b), o.b); err != nil {
			t.Fatal(err)
		}
	}
	if err := repo.SetRef("ock", ostree.SumBytes(commit)); err != nil {
		t.Fatal(err)
	}
	d, err := staticdelta.PlanRepo(dir, "ock", staticdelta.Options{PartSize: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Parts) < 3 {
		t.Fatalf("%d parts, want several", len(d.Parts))
	}
	return d
}

// TestDeltaParts: parts are rebuilt from their recipes byte for byte as
// the superblock lists them, once each however many clients ask at once,
// and still right when there is nowhere to cache them.
func TestDeltaParts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cacheDir func(t *testing.T) string
		cached   bool
	}{
		{"cached", func(t *testing.T) string { return t.TempDir() }, true},
		{"no cache", func(t *testing.T) string {
			f := filepath.Join(t.TempDir(), "file")
			os.WriteFile(f, nil, 0o644)
			return f // not a directory: no cache can be made
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			d := deltaRepo(t, root)
			cache := tc.cacheDir(t)
			var errs bytes.Buffer
			s := newTestServer(t, Options{Root: root, PartCacheDir: cache, ErrorLog: &errs})
			base := serveTCP(t, s)

			sb := get(t, base+"/ostree/"+ostree.ScratchDeltaSuperblockPath(d.To))
			if got := ostree.Checksum(sha256.Sum256(sb)); got != d.Superblock {
				t.Fatalf("superblock hashes to %s, want %s", got, d.Superblock)
			}
			var wg sync.WaitGroup
			for i, p := range d.Parts {
				for range 4 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						b := get(t, base+"/ostree/"+ostree.ScratchDeltaPartPath(d.To, i))
						if got := ostree.Checksum(sha256.Sum256(b)); got != p.Checksum || uint64(len(b)) != p.Size {
							t.Errorf("part %d: %d bytes hashing to %s, want %d bytes %s", i, len(b), got, p.Size, p.Checksum)
						}
					}()
				}
			}
			wg.Wait()
			if tc.cached {
				files, _ := filepath.Glob(filepath.Join(cache, "*", "*"))
				if len(files) != len(d.Parts) {
					t.Errorf("cache holds %d files for %d parts: %q", len(files), len(d.Parts), files)
				}
				// A range of a cached part, as any file.
				req, _ := http.NewRequest("GET", base+"/ostree/"+ostree.ScratchDeltaPartPath(d.To, 0), nil)
				req.Header.Set("Range", "bytes=1-10")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusPartialContent || resp.ContentLength != 10 {
					t.Errorf("range request: %d, %d bytes; want 206, 10", resp.StatusCode, resp.ContentLength)
				}
			} else if !bytes.Contains(errs.Bytes(), []byte("rebuilding parts on every request")) {
				t.Errorf("server log %q does not say parts are not cached", errs.String())
			}
			// The summary is the delta's, not a stale one at the root.
			os.WriteFile(filepath.Join(root, "ostree", "summary"), []byte("stale"), 0o644)
			if b := get(t, base+"/ostree/summary"); bytes.Equal(b, []byte("stale")) {
				t.Error("the repository's own summary hides the delta's")
			}
			s.Close()
			if tc.cached {
				if files, _ := filepath.Glob(filepath.Join(cache, "*")); len(files) != 0 {
					t.Errorf("Close left the cache: %q", files)
				}
			}
		})
	}
}

// TestDeltaPartBroken: a part whose object is gone or changed is an HTTP
// error, and the server says which object.
func TestDeltaPartBroken(t *testing.T) {
	root := t.TempDir()
	d := deltaRepo(t, root)
	var errs bytes.Buffer
	s := newTestServer(t, Options{Root: root, PartCacheDir: t.TempDir(), ErrorLog: &errs})
	h := s.Handler()
	last := len(d.Parts) - 1
	obj := d.Parts[last].Objects[0]
	p := filepath.Join(root, "ostree", ostree.ObjectPath(obj.Checksum, ostree.ObjFileZ))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		break_ func()
		want   int
	}{
		{"truncated", func() { os.WriteFile(p, b[:len(b)/2], 0o644) }, http.StatusInternalServerError},
		{"gone", func() { os.Remove(p) }, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.break_() // nothing is cached: every rebuild before failed
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/ostree/"+ostree.ScratchDeltaPartPath(d.To, last), nil))
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
			if !bytes.Contains(errs.Bytes(), []byte(obj.Checksum.String())) {
				t.Errorf("server log %q does not name object %s", errs.String(), obj.Checksum)
			}
		})
	}
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return b
}
