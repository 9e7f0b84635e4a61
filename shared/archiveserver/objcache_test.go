package archiveserver

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestImmutable(t *testing.T) {
	sum := "cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789" // 62
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"ostree/objects/ab/" + sum + ".filez", true},
		{"ostree/objects/ab/" + sum + ".dirtree", true},
		{"ostree/objects/ab/" + sum + ".dirmeta", true},
		{"ostree/objects/ab/" + sum + ".commit", true},
		{"objects/ab/" + sum + ".file", true},
		{"a/b/objects/00/" + sum + ".filez", true},
		// Signatures are added to a commit after the fact.
		{"ostree/objects/ab/" + sum + ".commitmeta", false},
		{"ostree/objects/ab/" + sum + ".filez.sig", false},
		{"ostree/objects/ab/" + sum[1:] + ".filez", false},
		{"ostree/objects/ab/" + sum + "0.filez", false},
		{"ostree/objects/AB/" + sum + ".filez", false},
		{"ostree/objects/ab/" + strings.ToUpper(sum) + ".filez", false},
		{"ostree/objects/a/" + sum + ".filez", false},
		{"ostree/object/ab/" + sum + ".filez", false},
		{"ab/" + sum + ".filez", false},
		{"ostree/objects/ab/" + sum, false},
		{"ostree/config", false},
		{"ostree/summary", false},
		{"ostree/refs/heads/ock", false},
		{"ks/ks.cfg", false},
		{".", false},
	} {
		if got := immutable(tc.name); got != tc.want {
			t.Errorf("immutable(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestObjectCache changes files under a running server: objects are
// answered from memory, the same as from disk, and everything else
// follows the disk.
func TestObjectCache(t *testing.T) {
	metaPath := strings.TrimSuffix(commitPath, ".commit") + ".commitmeta"
	get := func(t *testing.T, s *Server, method, name string, hdr http.Header) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, "/"+name, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		what  string
		cache int64
		// kept: the object's first content is still served after the
		// file changed.
		kept bool
	}{
		{"default", 0, true},
		{"disabled", -1, false},
		{"too small for the object", 100, false},
	} {
		t.Run(tc.what, func(t *testing.T) {
			root, _ := fakeTree(t)
			if err := os.WriteFile(filepath.Join(root, metaPath), []byte("meta"), 0o644); err != nil {
				t.Fatal(err)
			}
			s := newTestServer(t, Options{Root: root, ObjectCache: tc.cache})
			first := get(t, s, "GET", filezPath, nil)
			if first.Code != 200 || first.Body.String() != filezBody {
				t.Fatalf("GET object: %d %q", first.Code, first.Body)
			}
			for _, name := range []string{commitPath, metaPath, "ostree/config"} {
				get(t, s, "GET", name, nil)
			}
			for name, body := range map[string]string{
				filezPath:       "changed on disk, longer than before",
				metaPath:        "signed",
				"ostree/config": "[core]\nmode=archive\n",
			} {
				if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Remove(filepath.Join(root, commitPath)); err != nil {
				t.Fatal(err)
			}

			again := get(t, s, "GET", filezPath, nil)
			if got := again.Body.String() == filezBody; got != tc.kept {
				t.Errorf("GET object after change: %q (kept = %v, want %v)", again.Body, got, tc.kept)
			}
			if tc.kept {
				// From memory, byte for byte what the disk gave.
				for _, k := range []string{"Content-Type", "X-Content-Type-Options", "Etag", "Last-Modified", "Accept-Ranges", "Content-Length"} {
					if g, w := again.Header().Get(k), first.Header().Get(k); g != w || g == "" {
						t.Errorf("cached %s: %q, from disk %q", k, g, w)
					}
				}
				head := get(t, s, "HEAD", filezPath, nil)
				if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Etag") != first.Header().Get("Etag") {
					t.Errorf("HEAD cached object: %d, %d body bytes, headers %v", head.Code, head.Body.Len(), head.Header())
				}
				if c := get(t, s, "GET", commitPath, nil); c.Code != 200 || c.Body.String() != commitBody {
					t.Errorf("GET deleted cached commit: %d %q", c.Code, c.Body)
				}
			}
			// Conditional requests are answered from the disk.
			if c := get(t, s, "GET", filezPath, http.Header{"If-None-Match": {first.Header().Get("Etag")}}); c.Code != http.StatusOK {
				t.Errorf("GET object If-None-Match old ETag: %d, want 200 with the disk's content", c.Code)
			}
			// Never cached: detached metadata, the config, a trailing slash.
			if m := get(t, s, "GET", metaPath, nil); m.Body.String() != "signed" {
				t.Errorf("GET commitmeta after change: %q", m.Body)
			}
			if c := get(t, s, "GET", "ostree/config", nil); c.Body.String() != "[core]\nmode=archive\n" {
				t.Errorf("GET config after change: %q", c.Body)
			}
			if d := get(t, s, "GET", filezPath+"/", nil); d.Code != http.StatusNotFound {
				t.Errorf("GET object with a trailing slash: %d, want 404", d.Code)
			}
		})
	}
}

func BenchmarkObject(b *testing.B) {
	for _, tc := range []struct {
		what  string
		cache int64
	}{{"disk", -1}, {"memory", 0}} {
		b.Run(tc.what, func(b *testing.B) {
			root := b.TempDir()
			name := "objects/ab/cdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789.dirtree"
			if err := os.MkdirAll(filepath.Join(root, "objects/ab"), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, name), make([]byte, 900), 0o644); err != nil {
				b.Fatal(err)
			}
			s, err := New(Options{Root: root, ObjectCache: tc.cache})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			h := s.Handler()
			req := httptest.NewRequest("GET", "/"+name, nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}

// TestObjectCacheConcurrent has clients fetch the same objects at once
// over connections, with a cache that fills up partway: every body is
// the file's, whether it came from memory, went in, or found it full.
func TestObjectCacheConcurrent(t *testing.T) {
	root := t.TempDir()
	bodies := map[string][]byte{}
	for i := range 64 {
		name := fmt.Sprintf("objects/%02x/%062x.dirtree", i, i)
		body := bytes.Repeat([]byte{byte(i)}, 100+i*40) // 100 B to 2.6 KiB
		if err := os.MkdirAll(filepath.Join(root, path.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
		bodies[name] = body
	}
	// Room for about half of them.
	s := newTestServer(t, Options{Root: root, ObjectCache: 48 << 10})
	base := serveTCP(t, s)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for range 3 {
				for name, want := range bodies { // a different order per client and pass
					res, err := client.Get(base + "/" + name)
					if err != nil {
						errs <- fmt.Errorf("client %d: %w", c, err)
						return
					}
					got, err := io.ReadAll(res.Body)
					res.Body.Close()
					if err != nil || res.StatusCode != 200 || !bytes.Equal(got, want) {
						errs <- fmt.Errorf("client %d: GET %s: %d, %d bytes (want %d), %v", c, name, res.StatusCode, len(got), len(want), err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, max := s.objects.bytes.Load(), s.objects.max; n == 0 || n > max {
		t.Errorf("cache holds %d bytes, want some and at most %d", n, max)
	}
	if n := len(s.objects.m); n == 0 || n == len(bodies) {
		t.Errorf("cache holds %d of %d objects, want some but not all", n, len(bodies))
	}
}
