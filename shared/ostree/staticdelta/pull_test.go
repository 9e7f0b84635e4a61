package staticdelta

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/test/harness"
)

// testPartSize is small enough that the test tree spans several parts and
// its big file is a part of its own.
const testPartSize = 64 << 10

// commitTree commits, with the real ostree CLI, a tree holding what a
// delta must carry: a symlink, xattrs on a file and a directory, an empty
// file, a file bigger than a part, a hard link and duplicate content, a
// setuid file; it returns the archive repository and the commit.
func commitTree(t *testing.T) (string, ostree.Checksum) {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for _, d := range []string{"usr/etc", "usr/bin", "usr/share/a/b/c", "usr/lib/ünï"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 3*testPartSize/16+7)
	files := map[string][]byte{
		"usr/bin/tool":           []byte("#!/bin/sh\necho hi\n"),
		"usr/etc/empty":          nil,
		"usr/share/a/dup1":       []byte("same content\n"),
		"usr/share/a/b/c/dup2":   []byte("same content\n"),
		"usr/lib/ünï/big":        big,
		"usr/share/a/b/c/medium": bytes.Repeat([]byte{1, 2, 3}, 10000),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tree, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(tree, "usr/bin/tool"), filepath.Join(tree, "usr/bin/tool-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../lib/ünï/big", filepath.Join(tree, "usr/bin/big-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(tree, "usr/bin/tool"), 0o4755); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct{ path, name, value string }{
		{"usr/bin/tool", "user.zz", "v2"}, {"usr/bin/tool", "user.aa", "v1"}, {"usr/share/a", "user.dir", "x"},
	} {
		if err := syscall.Setxattr(filepath.Join(tree, x.path), x.name, []byte(x.value), 0); err != nil {
			t.Fatal(err)
		}
	}
	repo := filepath.Join(dir, "repo")
	harness.Run(t, "ostree", "--repo="+repo, "init", "--mode=archive")
	out := harness.Run(t, "ostree", "--repo="+repo, "commit", "--branch=ock", "--tree=dir="+tree,
		"--subject=test", "--add-metadata-string=version=1.33", "--timestamp=2024-01-01T00:00:00Z")
	c, err := ostree.ParseChecksum(out)
	if err != nil {
		t.Fatal(err)
	}
	return repo, c
}

// server serves dir over HTTP and records the paths requested.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []string
}

// serve serves dir, answering requests for loose objects after
// looseDelay. libostree before 2023.7 walks the commit while the parts
// arrive and fetches loose what it reaches first (see the package
// documentation); on loopback that race is decided by microseconds, and
// a delay as small as a LAN's round trip decides it the way a real
// network does.
func serve(t *testing.T, dir string, looseDelay time.Duration) *server {
	return serveHandler(t, http.FileServer(http.Dir(dir)), looseDelay)
}

// serveHandler is serve with any handler.
func serveHandler(t *testing.T, fs http.Handler, looseDelay time.Duration) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, r.URL.Path)
		s.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/objects/") {
			time.Sleep(looseDelay)
		}
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// client is an ostree CLI that pulls.
type client struct {
	name, bin string
	// walks: the client walks a commit it got from a delta while the parts
	// arrive, and fetches loose what it reaches first (libostree before
	// 2023.7; see the package documentation).
	walks bool
}

// clients are Debian 12's libostree 2022.7, the default client everywhere,
// and a current one (OCNE_TEST_OSTREE_NEW), which is what an installer
// ships today; each runs as a subtest, the current one skipped when unset.
func clients() []client {
	return []client{{name: "2022.7", bin: "ostree", walks: true}, {name: "current"}}
}

// run runs t's subtest for c, resolving the current client's binary and
// checking it is one that does not walk delta commits.
func (c client) run(t *testing.T, f func(t *testing.T, c client)) {
	t.Run(c.name, func(t *testing.T) {
		if c.bin == "" {
			c.bin = harness.OstreeNew(t)
			v := regexp.MustCompile(`Version: '([0-9]+)\.([0-9]+)`).FindStringSubmatch(harness.Run(t, c.bin, "--version"))
			if v == nil {
				t.Fatalf("%s --version: no libostree version", c.bin)
			}
			if year, minor := atoi(t, v[1]), atoi(t, v[2]); year < 2023 || year == 2023 && minor < 7 {
				t.Fatalf("%s is libostree %s.%s; the current client must be 2023.7 or later", c.bin, v[1], v[2])
			}
		}
		f(t, c)
	})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pull pulls ref from url with c into a new bare-user repository, as
// Anaconda's libostree does, and returns the repository, the output and
// the error.
func (c client) pull(t *testing.T, url string, args ...string) (string, string, error) {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "client")
	harness.Run(t, c.bin, "--repo="+repo, "init", "--mode=bare-user")
	harness.Run(t, c.bin, "--repo="+repo, "remote", "add", "--no-gpg-verify", "ock", url)
	out, err := exec.Command(c.bin, append([]string{"--repo=" + repo, "pull", "ock", "ock"}, args...)...).CombinedOutput()
	return repo, string(out), err
}

// TestPullUsesDelta: the client fetches the superblock and every part.
// One that walks the commit may still fetch dirtrees loose (the package
// documentation says why) but no content or dirmeta; a current client
// fetches no object loose at all. Both ask for the commit's detached
// metadata (.commitmeta, 404 here) once the superblock has written the
// commit: libostree always does, in case new signatures appeared.
func TestPullUsesDelta(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: uses the real ostree")
	}
	src, commit := commitTree(t)
	d, err := FromRepo(src, "ock", Options{PartSize: testPartSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Parts) < 3 {
		t.Fatalf("want a delta of several parts, got %d", len(d.Parts))
	}
	part := regexp.MustCompile(`^/deltas/../[^/]+/[0-9]+$`)
	superblock := "/" + ostree.ScratchDeltaSuperblockPath(commit)
	commitmeta := "/" + ostree.ObjectPath(commit, ostree.ObjCommitMeta)
	for _, c := range clients() {
		c.run(t, func(t *testing.T, c client) {
			srv := serve(t, src, 50*time.Millisecond)
			repo, out, err := c.pull(t, srv.URL)
			if err != nil {
				t.Fatalf("pull: %v\n%s", err, out)
			}
			reqs := srv.requests()
			t.Logf("pull: %s\nrequests: %q", strings.TrimSpace(out), reqs)
			var parts int
			for _, r := range reqs {
				switch {
				case r == commitmeta:
				case strings.HasPrefix(r, "/objects/") && !c.walks:
					t.Errorf("loose object fetched: %s", r)
				case strings.HasSuffix(r, ".filez") || strings.HasSuffix(r, ".dirmeta"):
					t.Errorf("loose object fetched: %s", r)
				case part.MatchString(r):
					parts++
				}
			}
			if !slices.Contains(reqs, superblock) || parts != len(d.Parts) {
				t.Errorf("superblock fetched: %v, %d of %d parts fetched", slices.Contains(reqs, superblock), parts, len(d.Parts))
			}
			if got := harness.Run(t, c.bin, "--repo="+repo, "rev-parse", "ock:ock"); got != commit.String() {
				t.Errorf("pulled ock:ock = %s, want %s", got, commit)
			}
			harness.Run(t, c.bin, "--repo="+repo, "fsck")
			// The same tree, file by file, with modes and xattrs.
			want := harness.Run(t, "ostree", "--repo="+src, "ls", "-R", "-X", "ock")
			if got := harness.Run(t, c.bin, "--repo="+repo, "ls", "-R", "-X", commit.String()); got != want {
				t.Errorf("pulled tree differs:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestPullFailures: a corrupt part fails the pull on its checksum; a
// client that does not use deltas still pulls from the same server.
func TestPullFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: uses the real ostree")
	}
	for _, c := range clients() {
		c.run(t, func(t *testing.T, c client) {
			src, commit := commitTree(t)
			d, err := FromRepo(src, "ock", Options{PartSize: testPartSize})
			if err != nil {
				t.Fatal(err)
			}
			srv := serve(t, src, 0)

			repo, out, err := c.pull(t, srv.URL, "--disable-static-deltas")
			if err != nil {
				t.Fatalf("pull --disable-static-deltas: %v\n%s", err, out)
			}
			for _, r := range srv.requests() {
				if strings.HasPrefix(r, "/deltas/") {
					t.Errorf("pull --disable-static-deltas fetched %s", r)
				}
			}
			harness.Run(t, c.bin, "--repo="+repo, "fsck")

			part := filepath.Join(src, ostree.ScratchDeltaPartPath(commit, 1))
			b, err := os.ReadFile(part)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 1
			if err := os.WriteFile(part, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, out, err = c.pull(t, srv.URL)
			if err == nil {
				t.Fatalf("pull with a corrupt part succeeded:\n%s", out)
			}
			if want := "Checksum mismatch in static delta part; expected=" + d.Parts[1].Checksum.String(); !strings.Contains(out, want) {
				t.Errorf("pull failed with %q, want an error saying %q", strings.TrimSpace(out), want)
			}
		})
	}
}
