package staticdelta

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/archiveserver"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostree/deltapart"
	"github.com/ocne-image/ocne-image/test/harness"
)

// archiveServer is a server of the archive server, which rebuilds parts
// from their recipes; errs is its error log.
type archiveServer struct {
	*server
	errs *bytes.Buffer
}

func serveArchive(t *testing.T, dir string, looseDelay time.Duration) archiveServer {
	t.Helper()
	errs := &bytes.Buffer{}
	srv, err := archiveserver.New(archiveserver.Options{Root: dir, ErrorLog: errs, PartCacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return archiveServer{serveHandler(t, srv.Handler(), looseDelay), errs}
}

var partPath = regexp.MustCompile(`^/deltas/../[^/]+/[0-9]+$`)

// TestPlannedDeltaPull: the delta create plans, served by the archive
// server from recipes, is what a real libostree pulls the commit with: a
// current client fetches no object loose, 2022.7 no content object.
func TestPlannedDeltaPull(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: uses the real ostree")
	}
	for _, c := range clients() {
		c.run(t, testPlannedDeltaPull)
	}
}

func testPlannedDeltaPull(t *testing.T, cl client) {
	src, commit := commitTree(t)
	d, err := PlanRepo(src, "ock", Options{PartSize: testPartSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Parts) < 3 {
		t.Fatalf("want a delta of several parts, got %d", len(d.Parts))
	}
	// Nothing a plain web server would show: no summary, no delta.
	for _, p := range []string{"summary", "deltas", "delta-indexes"} {
		if _, err := os.Stat(filepath.Join(src, p)); err == nil {
			t.Errorf("%s at the repository's root: a plain server would offer a delta it cannot serve", p)
		}
	}
	srv := serveArchive(t, src, 50*time.Millisecond)
	client, out, err := cl.pull(t, srv.URL)
	if err != nil {
		t.Fatalf("pull: %v\n%s\nserver: %s", err, out, srv.errs.String())
	}
	reqs := srv.requests()
	var parts int
	for _, r := range reqs {
		switch {
		case partPath.MatchString(r):
			parts++
		case strings.HasSuffix(r, ".commitmeta"): // always asked for; see TestPullUsesDelta
		case strings.HasSuffix(r, ".filez") || strings.HasSuffix(r, ".dirmeta"):
			t.Errorf("loose object fetched: %s", r)
		case strings.HasPrefix(r, "/objects/") && !cl.walks:
			t.Errorf("loose object fetched: %s", r)
		}
	}
	t.Logf("pull: %s", strings.TrimSpace(out))
	if !slices.Contains(reqs, "/"+ostree.ScratchDeltaSuperblockPath(commit)) || parts != len(d.Parts) {
		t.Errorf("superblock fetched: %v, %d of %d parts fetched", slices.Contains(reqs, "/"+ostree.ScratchDeltaSuperblockPath(commit)), parts, len(d.Parts))
	}
	if got := harness.Run(t, cl.bin, "--repo="+client, "rev-parse", "ock:ock"); got != commit.String() {
		t.Errorf("pulled ock:ock = %s, want %s", got, commit)
	}
	harness.Run(t, cl.bin, "--repo="+client, "fsck")
	want := harness.Run(t, "ostree", "--repo="+src, "ls", "-R", "-X", "ock")
	if got := harness.Run(t, cl.bin, "--repo="+client, "ls", "-R", "-X", commit.String()); got != want {
		t.Errorf("pulled tree differs:\n%s\nwant\n%s", got, want)
	}

	// The parts the server rebuilt, laid out as libostree keeps them, are
	// a delta `ostree static-delta show` reads.
	for i := range d.Parts {
		name := ostree.ScratchDeltaPartPath(commit, i)
		resp, err := http.Get(srv.URL + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		if err := DirSink(src).WriteFile(name, int64(b.Len()), &b); err != nil {
			t.Fatal(err)
		}
	}
	sb, err := os.ReadFile(filepath.Join(src, deltapart.Dir, ostree.ScratchDeltaSuperblockPath(commit)))
	if err != nil {
		t.Fatal(err)
	}
	if err := DirSink(src).WriteFile(ostree.ScratchDeltaSuperblockPath(commit), int64(len(sb)), bytes.NewReader(sb)); err != nil {
		t.Fatal(err)
	}
	show := harness.Run(t, "ostree", "--repo="+src, "static-delta", "show", commit.String())
	if want := "Number of parts: " + strconv.Itoa(len(d.Parts)); !strings.Contains(show, want) {
		t.Errorf("static-delta show says\n%s\nwant %q", show, want)
	}
}

// TestPlannedDeltaFailures: a part the server cannot rebuild is an HTTP
// error the pull stops on; clients without deltas, and plain web servers
// of the same directory, still pull loose.
func TestPlannedDeltaFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: uses the real ostree")
	}
	src, _ := commitTree(t)
	d, err := PlanRepo(src, "ock", Options{PartSize: testPartSize})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveArchive(t, src, 0)
	cl := clients()[0]
	client, out, err := cl.pull(t, srv.URL, "--disable-static-deltas")
	if err != nil {
		t.Fatalf("pull --disable-static-deltas: %v\n%s", err, out)
	}
	for _, r := range srv.requests() {
		if strings.HasPrefix(r, "/deltas/") {
			t.Errorf("pull --disable-static-deltas fetched %s", r)
		}
	}
	harness.Run(t, "ostree", "--repo="+client, "fsck")

	plain := serve(t, src, 0)
	client, out, err = cl.pull(t, plain.URL)
	if err != nil {
		t.Fatalf("pull from a plain web server: %v\n%s", err, out)
	}
	harness.Run(t, "ostree", "--repo="+client, "fsck")

	// An object a part needs, gone: the part is an HTTP error.
	last := d.Parts[len(d.Parts)-1].Objects[0]
	obj := filepath.Join(src, ostree.ObjectPath(last.Checksum, ostree.ObjFileZ))
	if err := os.Rename(obj, obj+".gone"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, out, err = cl.pull(t, srv.URL)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("pull with a part the server cannot rebuild hangs")
	}
	if err == nil {
		t.Fatalf("pull with a part the server cannot rebuild succeeded:\n%s", out)
	}
	if !strings.Contains(out, "404") && !strings.Contains(out, "Not Found") && !strings.Contains(out, "not found") {
		t.Errorf("pull failed with %q, want an HTTP error", strings.TrimSpace(out))
	}
	if !strings.Contains(srv.errs.String(), last.Checksum.String()) {
		t.Errorf("server log %q does not name the missing object %s", srv.errs.String(), last.Checksum)
	}
}

// TestPlannerConcurrent: objects planned from many goroutines at once, some
// twice, give parts whose recipes rebuild, from the repository, exactly the
// parts the superblock lists, holding every object once.
func TestPlannerConcurrent(t *testing.T) {
	dir := t.TempDir()
	repo, err := archiverepo.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	const partSize = 64 << 10
	tree := &ostree.DirTree{}
	type obj struct {
		c    ostree.Checksum
		h    *ostree.FileHeader
		data []byte
	}
	var objs []obj
	for i := range 200 {
		size := (i * 7919) % (partSize / 2) // some over a quarter part
		data := bytes.Repeat([]byte{byte(i), byte(i >> 8), 3}, size/3)
		h := &ostree.FileHeader{Mode: ostree.ModeRegular | 0o644, UID: uint32(i % 3)}
		c, err := repo.AddContent(h, int64(len(data)), bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, obj{c, h, data})
		tree.Files = append(tree.Files, ostree.TreeFile{Name: fmt.Sprintf("f%03d", i), Checksum: c})
	}
	meta := (&ostree.DirMeta{Mode: 0o40755}).Marshal()
	tb := tree.Marshal()
	commit := (&ostree.Commit{Subject: "t", RootTree: ostree.SumBytes(tb), RootMeta: ostree.SumBytes(meta)}).Marshal()
	metaOf := map[ostree.Checksum][]byte{ostree.SumBytes(meta): meta, ostree.SumBytes(tb): tb}
	if err := repo.WriteMetadata(ostree.ObjDirMeta, ostree.SumBytes(meta), meta); err != nil {
		t.Fatal(err)
	}
	if err := repo.WriteMetadata(ostree.ObjDirTree, ostree.SumBytes(tb), tb); err != nil {
		t.Fatal(err)
	}

	p := NewPlanner(Options{PartSize: partSize})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(objs); i += 4 { // every object planned twice
				o := objs[i]
				cw := p.Content(o.h, int64(len(o.data)))
				for b := o.data; len(b) > 0; b = b[min(len(b), 1000):] {
					cw.Write(b[:min(len(b), 1000)])
				}
				if err := cw.Done(o.c); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	sink := memSink{}
	to := ostree.SumBytes(commit)
	d, err := p.Finish(sink, to, commit, nil, func(_ ostree.ObjectType, c ostree.Checksum) []byte { return metaOf[c] })
	if err != nil {
		t.Fatal(err)
	}
	seen := map[ostree.Checksum]int{}
	for i, ph := range d.Parts {
		r, err := deltapart.ParseRecipe(sink[ostree.ScratchDeltaPartPath(to, i)+deltapart.RecipeSuffix])
		if err != nil {
			t.Fatal(err)
		}
		var part bytes.Buffer
		if err := deltapart.Assemble(&part, r, func(name string) (io.ReadCloser, error) { return os.Open(filepath.Join(dir, name)) }); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if ostree.Checksum(sha256.Sum256(part.Bytes())) != ph.Checksum || uint64(part.Len()) != ph.Size {
			t.Errorf("part %d rebuilt differs from its header", i)
		}
		if ph.USize > partSize && len(ph.Objects) > 1 {
			t.Errorf("part %d: %d bytes in %d objects, over the part size", i, ph.USize, len(ph.Objects))
		}
		for _, o := range ph.Objects {
			seen[o.Checksum]++
		}
	}
	for _, o := range objs {
		if seen[o.c] != 1 {
			t.Errorf("object %s in %d parts, want 1", o.c, seen[o.c])
		}
	}
}
