package archiveserver

import (
	"container/list"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/ocne-image/ocne-image/shared/ostree/deltapart"
)

// The static delta of an image made by create lives in the repository's
// deltapart.Dir, its parts as recipes (see package deltapart). serveDelta
// answers the summary and delta requests of libostree from there, and
// rebuilds a part from its recipe and the loose objects the first time it
// is asked for, into the part cache; from then on the part is a file like
// any other (sendfile, ranges), so a fleet pulling the same parts costs
// one rebuild per part.

// serveDelta answers name from the overlay file, if there is one, and
// reports whether it did.
func (s *Server) serveDelta(w http.ResponseWriter, r *http.Request, name, file string) bool {
	if e, err := s.open(file); err == nil {
		if !e.typ.IsRegular() {
			e.close()
			return false
		}
		defer e.close()
		s.send(w, r, name, e)
		return true
	}
	re, err := s.open(file + deltapart.RecipeSuffix)
	if err != nil {
		return false
	}
	defer re.close()
	if !re.typ.IsRegular() || re.size > maxRecipe {
		return false
	}
	b, err := io.ReadAll(io.LimitReader(re.f, maxRecipe))
	var rec *deltapart.Recipe
	if err == nil {
		rec, err = deltapart.ParseRecipe(b)
	}
	if err != nil {
		s.logError("delta part %s: %v", name, err)
		http.Error(w, "cannot read delta part recipe", http.StatusInternalServerError)
		return true
	}
	// The repository is what the path holds before deltas/.
	repo := strings.TrimSuffix(name[:strings.LastIndex(name, "deltas/")], "/")
	open := func(obj string) (io.ReadCloser, error) {
		e, err := s.open(path.Join(repo, obj))
		if err == nil && !e.typ.IsRegular() {
			e.close()
			err = fs.ErrNotExist
		}
		return e.f, err
	}
	if s.parts != nil {
		f, err := s.parts.get(rec, open)
		if err == nil {
			defer f.Close()
			s.send(w, r, name, entry{f: f, typ: 0, size: rec.Size, mtime: re.mtime})
			return true
		}
		switch {
		case errors.Is(err, errCacheFull):
			// Served like an uncached part; the cache keeps what it has.
		case errors.Is(err, errNoCache):
			s.parts.warnOnce.Do(func() { s.logError("delta part cache: %v; rebuilding parts on every request", err) })
		default:
			s.logError("delta part %s: %v", name, err)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				s.fail(w, err)
			} else { // an object that is not what the recipe was made from
				http.Error(w, "cannot rebuild delta part", http.StatusInternalServerError)
			}
			return true
		}
	}
	// No cache: rebuild straight into the response. A failure half way
	// cuts the connection, so the client sees a short part, never a
	// wrong one it would take as whole.
	h := w.Header()
	h["Content-Type"] = []string{"application/octet-stream"}
	h["Content-Length"] = []string{strconv.FormatInt(rec.Size, 10)}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return true
	}
	if err := deltapart.Assemble(w, rec, open); err != nil {
		s.logError("delta part %s: %v", name, err)
		panic(http.ErrAbortHandler)
	}
	return true
}

// maxRecipe bounds a recipe read into memory: one names at most a part's
// objects, 34 bytes or so each.
const maxRecipe = 16 << 20

// DefaultPartCache is how many bytes of rebuilt delta parts a Server keeps
// on disk: more than a real OCK tree's parts (about 1.5 GB), so a fleet
// costs one rebuild per part, and a bound on what the server writes.
const DefaultPartCache = 2 << 30

var (
	errNoCache   = errors.New("no part cache")
	errCacheFull = errors.New("part cache full")
)

// partCache holds rebuilt parts as files named by their checksum, at most
// max bytes of them, least recently used out first. It rebuilds each part
// once however many clients ask for it at once. A part that does not fit
// is not cached: its requests rebuild it into the response.
type partCache struct {
	base string // where dir is made
	max  int64

	mu       sync.Mutex
	dir      string // "" until first used
	err      error  // making dir failed: no cache
	used     int64  // bytes of cached parts and of rebuilds under way
	lru      list.List
	cached   map[string]*list.Element // of *cachedPart, by key
	inflight map[string]*rebuild
	warnOnce sync.Once // that there is no cache
}

type cachedPart struct {
	key  string
	size int64
}

type rebuild struct {
	done chan struct{}
	err  error
}

func newPartCache(base string, max int64) *partCache {
	return &partCache{base: base, max: max, cached: map[string]*list.Element{}, inflight: map[string]*rebuild{}}
}

// get returns the part file of rec, open, rebuilding it first if needed.
// Errors wrapping errNoCache or errCacheFull mean the part is not cached
// and the caller rebuilds it itself.
func (c *partCache) get(rec *deltapart.Recipe, open deltapart.Opener) (*os.File, error) {
	key := hex.EncodeToString(rec.Checksum[:])
	c.mu.Lock()
	if c.dir == "" && c.err == nil {
		c.dir, c.err = os.MkdirTemp(c.base, "ocne-archive-server-parts-")
	}
	if c.err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", errNoCache, c.err)
	}
	p := filepath.Join(c.dir, key)
	if e, ok := c.cached[key]; ok {
		if f, err := os.Open(p); err == nil {
			c.lru.MoveToFront(e)
			c.mu.Unlock()
			return f, nil
		}
		c.drop(e) // removed behind our back (a /tmp cleaner): rebuild it
	}
	b, busy := c.inflight[key]
	if !busy {
		if !c.reserve(rec.Size) {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: %d of %d bytes in use, part of %d", errCacheFull, c.used, c.max, rec.Size)
		}
		b = &rebuild{done: make(chan struct{})}
		c.inflight[key] = b
	}
	c.mu.Unlock()
	if busy {
		<-b.done
	} else {
		b.err = c.rebuild(p, rec, open)
		c.mu.Lock()
		delete(c.inflight, key)
		if b.err == nil {
			c.cached[key] = c.lru.PushFront(&cachedPart{key, rec.Size})
		} else {
			c.used -= rec.Size
		}
		c.mu.Unlock()
		close(b.done)
	}
	if b.err != nil {
		return nil, b.err
	}
	f, err := os.Open(p)
	if err != nil { // dropped already, by a busier cache than it holds
		return nil, fmt.Errorf("%w: %w", errCacheFull, err)
	}
	return f, nil
}

// reserve makes room for size bytes, dropping the least recently used
// parts, and counts them as used. Clients that have a dropped part open
// read on from the unlinked file. Called with c.mu held.
func (c *partCache) reserve(size int64) bool {
	if size > c.max {
		return false
	}
	for c.used+size > c.max {
		e := c.lru.Back()
		if e == nil { // the rest is rebuilds under way
			return false
		}
		c.drop(e)
	}
	c.used += size
	return true
}

// drop removes a cached part. Called with c.mu held.
func (c *partCache) drop(e *list.Element) {
	part := c.lru.Remove(e).(*cachedPart)
	delete(c.cached, part.key)
	os.Remove(filepath.Join(c.dir, part.key))
	c.used -= part.size
}

// rebuild writes the part to a temp file and renames it into place once
// it matches the recipe.
func (c *partCache) rebuild(p string, rec *deltapart.Recipe, open deltapart.Opener) error {
	f, err := os.CreateTemp(c.dir, ".tmp-")
	if err != nil {
		return fmt.Errorf("%w: %w", errNoCache, err)
	}
	err = deltapart.Assemble(cacheWriter{f}, rec, open)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%w: %w", errCacheFull, cerr)
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// cacheWriter marks write errors (a full disk) as errCacheFull, so the
// request is served without the cache instead of failing.
type cacheWriter struct{ f *os.File }

func (w cacheWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if err != nil {
		err = fmt.Errorf("%w: %w", errCacheFull, err)
	}
	return n, err
}

// remove deletes the cache.
func (c *partCache) remove() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// logError logs through a log.Logger, which serialises the writes of
// concurrent requests.
func (s *Server) logError(format string, args ...any) { s.errLog.Printf(format, args...) }
