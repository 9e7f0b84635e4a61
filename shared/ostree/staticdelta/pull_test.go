package staticdelta

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	s := &server{}
	fs := http.FileServer(http.Dir(dir))
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

// pull pulls ref from url into a new bare-user repository, as Anaconda's
// libostree does, and returns the repository, the output and the error.
func pull(t *testing.T, url string, args ...string) (string, string, error) {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "client")
	harness.Run(t, "ostree", "--repo="+repo, "init", "--mode=bare-user")
	harness.Run(t, "ostree", "--repo="+repo, "remote", "add", "--no-gpg-verify", "ock", url)
	out, err := exec.Command("ostree", append([]string{"--repo=" + repo, "pull", "ock", "ock"}, args...)...).CombinedOutput()
	return repo, string(out), err
}

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
	srv := serve(t, src, 50*time.Millisecond)
	client, out, err := pull(t, srv.URL)
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	reqs := srv.requests()
	t.Logf("pull: %s\nrequests: %q", strings.TrimSpace(out), reqs)
	var parts int
	for _, r := range reqs {
		switch {
		case strings.HasSuffix(r, ".filez") || strings.HasSuffix(r, ".dirmeta"):
			t.Errorf("loose object fetched: %s", r)
		case regexp.MustCompile(`^/deltas/../[^/]+/[0-9]+$`).MatchString(r):
			parts++
		}
	}
	if !slicesContains(reqs, "/"+ostree.ScratchDeltaSuperblockPath(commit)) || parts != len(d.Parts) {
		t.Errorf("superblock fetched: %v, %d of %d parts fetched", slicesContains(reqs, "/"+ostree.ScratchDeltaSuperblockPath(commit)), parts, len(d.Parts))
	}
	if got := harness.Run(t, "ostree", "--repo="+client, "rev-parse", "ock:ock"); got != commit.String() {
		t.Errorf("pulled ock:ock = %s, want %s", got, commit)
	}
	harness.Run(t, "ostree", "--repo="+client, "fsck")
	// The same tree, file by file, with modes and xattrs.
	want := harness.Run(t, "ostree", "--repo="+src, "ls", "-R", "-X", "ock")
	if got := harness.Run(t, "ostree", "--repo="+client, "ls", "-R", "-X", commit.String()); got != want {
		t.Errorf("pulled tree differs:\n%s\nwant\n%s", got, want)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestPullFailures: a corrupt part fails the pull on its checksum; a
// client that does not use deltas still pulls from the same server.
func TestPullFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: uses the real ostree")
	}
	src, commit := commitTree(t)
	d, err := FromRepo(src, "ock", Options{PartSize: testPartSize})
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, src, 0)

	client, out, err := pull(t, srv.URL, "--disable-static-deltas")
	if err != nil {
		t.Fatalf("pull --disable-static-deltas: %v\n%s", err, out)
	}
	for _, r := range srv.requests() {
		if strings.HasPrefix(r, "/deltas/") {
			t.Errorf("pull --disable-static-deltas fetched %s", r)
		}
	}
	harness.Run(t, "ostree", "--repo="+client, "fsck")

	part := filepath.Join(src, ostree.ScratchDeltaPartPath(commit, 1))
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(part, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, err = pull(t, srv.URL)
	if err == nil {
		t.Fatalf("pull with a corrupt part succeeded:\n%s", out)
	}
	if want := "Checksum mismatch in static delta part; expected=" + d.Parts[1].Checksum.String(); !strings.Contains(out, want) {
		t.Errorf("pull failed with %q, want an error saying %q", strings.TrimSpace(out), want)
	}
}
