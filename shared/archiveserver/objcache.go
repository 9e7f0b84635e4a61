package archiveserver

import (
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultObjectCache is how many bytes of small objects a Server keeps in
// memory: some 30k dirtree, dirmeta and small file objects of about 1 KiB.
// With the server's other memory it stays well inside the 256 MiB that
// kubectl ocne-image serve gives a replica.
const DefaultObjectCache = 32 << 20

// objectCache holds the bodies of small OSTree objects. An object's name
// is the checksum of its content, so a stored body never goes stale, and
// a hit is answered without a system call to the file system (the open,
// fstat, read and close that were a fifth of a miss's CPU in a pod). It
// fills until max bytes and then keeps what it has: a fleet pulls the
// same objects in roughly the same order, which would make an LRU evict
// each object just before the next client asks for it.
type objectCache struct {
	max int64

	mu    sync.RWMutex
	m     map[string]*cachedObject
	bytes atomic.Int64 // written under mu
}

// cachedObject is a body and the response headers that depend on it,
// formatted once.
type cachedObject struct {
	body         []byte
	contentType  string
	etag         string
	lastModified string
	length       string
}

func newObjectCache(max int64) *objectCache {
	return &objectCache{max: max, m: make(map[string]*cachedObject)}
}

func (c *objectCache) get(name string) *cachedObject {
	c.mu.RLock()
	o := c.m[name]
	c.mu.RUnlock()
	return o
}

// cost is what keeping a body of size bytes under name takes, with the
// map entry and the formatted headers.
func cost(name string, size int64) int64 { return size + int64(len(name)) + 160 }

// fits reports whether a body of size bytes would still be kept, so that
// a full cache costs misses no allocation.
func (c *objectCache) fits(name string, size int64) bool {
	return c.bytes.Load()+cost(name, size) <= c.max
}

// add keeps body as name's unless the cache is full or has it already.
// The cache owns body from then on.
func (c *objectCache) add(name string, body []byte, mtime time.Time) {
	size := cost(name, int64(len(body)))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes.Load()+size > c.max || c.m[name] != nil {
		return
	}
	c.m[name] = &cachedObject{
		body:         body,
		contentType:  contentType(name),
		etag:         etag(mtime, int64(len(body))),
		lastModified: mtime.UTC().Format(http.TimeFormat),
		length:       strconv.Itoa(len(body)),
	}
	c.bytes.Add(size)
}

// immutable reports whether name is a content-addressed object of an
// OSTree repository: objects/XX/YYYY.kind with the 64 hex digits of a
// SHA-256 split after two. Detached metadata (.commitmeta: signatures
// are added later) and anything else may change under the same name.
func immutable(name string) bool {
	dir, file := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	prefix := path.Base(dir)
	if path.Base(path.Dir(dir)) != "objects" || len(prefix) != 2 || !isHex(prefix) {
		return false
	}
	sum, kind, ok := strings.Cut(file, ".")
	if !ok || len(sum) != 62 || !isHex(sum) {
		return false
	}
	switch kind {
	case "commit", "dirtree", "dirmeta", "filez", "file":
		return true
	}
	return false
}

// isHex reports whether s is lower-case hex, as OSTree writes checksums.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
