package archiveserver

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestDeltaPartCacheCap: the cache never holds more than its cap, drops
// the least recently used part first, and a part bigger than the whole
// cap is still served, rebuilt for each request.
func TestDeltaPartCacheCap(t *testing.T) {
	root := t.TempDir()
	d := deltaRepo(t, root)
	var largest uint64
	for _, p := range d.Parts {
		largest = max(largest, p.Size)
	}
	for _, tc := range []struct {
		name     string
		cap      int64
		maxFiles int // at any time
	}{
		{"room for two of the largest", int64(2 * largest), len(d.Parts)},
		{"smaller than the largest part", int64(largest - 1), len(d.Parts) - 1},
		{"one byte: no part fits", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			s := newTestServer(t, Options{Root: root, PartCacheDir: cache, PartCache: tc.cap})
			base := serveTCP(t, s)
			for range 2 {
				for i, p := range d.Parts {
					b := get(t, base+"/ostree/"+ostree.ScratchDeltaPartPath(d.To, i))
					if got := ostree.Checksum(sha256.Sum256(b)); got != p.Checksum || uint64(len(b)) != p.Size {
						t.Errorf("part %d: %d bytes hashing to %s, want %d bytes %s", i, len(b), got, p.Size, p.Checksum)
					}
					files, _ := filepath.Glob(filepath.Join(cache, "*", "*"))
					var used int64
					for _, f := range files {
						if fi, err := os.Stat(f); err == nil {
							used += fi.Size()
						}
					}
					if used > tc.cap || len(files) > tc.maxFiles {
						t.Fatalf("after part %d the cache holds %d files, %d bytes; cap %d bytes, %d files", i, len(files), used, tc.cap, tc.maxFiles)
					}
				}
			}
		})
	}
	// The most recently used part stays; the oldest goes first.
	cache := t.TempDir()
	s := newTestServer(t, Options{Root: root, PartCacheDir: cache, PartCache: int64(2 * largest)})
	h := s.Handler()
	part := func(i int) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/ostree/"+ostree.ScratchDeltaPartPath(d.To, i), nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("part %d: status %d", i, rec.Code)
		}
	}
	cached := func(i int) bool {
		files, _ := filepath.Glob(filepath.Join(cache, "*", d.Parts[i].Checksum.String()))
		return len(files) == 1
	}
	part(0)
	for i := 1; i < len(d.Parts); i++ {
		part(0) // kept in use
		part(i)
		if !cached(0) {
			t.Fatalf("part 0, used before each other part, was dropped after part %d", i)
		}
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

// TestDeltaPartCacheDiskFull: a cache whose disk is full serves every
// part all the same, rebuilt into the response.
func TestDeltaPartCacheDiskFull(t *testing.T) {
	root := t.TempDir()
	d := deltaRepo(t, root)
	cache := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", cache).Run(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { exec.Command("umount", cache).Run() })
	// Fill it: the cache's directory and temp files can be made, no data written.
	filler, err := os.Create(filepath.Join(cache, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(filler, bytes.NewReader(make([]byte, 1<<20))); err == nil {
		t.Fatal("64k tmpfs took 1 MiB")
	}
	filler.Close()
	var errLog bytes.Buffer
	s := newTestServer(t, Options{Root: root, PartCacheDir: cache, ErrorLog: &errLog})
	base := serveTCP(t, s)
	for i, p := range d.Parts {
		b := get(t, base+"/ostree/"+ostree.ScratchDeltaPartPath(d.To, i))
		if got := ostree.Checksum(sha256.Sum256(b)); got != p.Checksum {
			t.Errorf("part %d: %d bytes hashing to %s, want %s", i, len(b), got, p.Checksum)
		}
	}
	if strings.Contains(errLog.String(), "delta part") {
		t.Errorf("a full cache disk is logged as an error: %s", errLog.String())
	}
}
