package archiverepo

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// Stream writes an archive repository as the entries of a tar stream, under
// a path prefix: a container image layer holding the repository, made while
// the objects are imported, so that no repository directory is written and
// read back. Its methods are safe for concurrent use; content objects are
// compressed in the callers' goroutines and only written out in turn.
//
// Metadata objects and the headers of content objects stay in memory (a
// few MB for an OCK tree) so that a commit can be walked, checked and
// merged; content is written out as soon as it is verified, so nothing
// unverified ever reaches the stream. Close writes the config and the refs
// and ends the tar stream.
type Stream struct {
	enc    *encoder
	prefix string
	mtime  time.Time
	tmpDir string
	spools sync.Pool // *spool
	// spoolLimit is spoolMemory but for tests.
	spoolLimit int
	tap        func(h *ostree.FileHeader, size int64) ContentTap

	mu      sync.Mutex // guards tw and the maps, so entries never interleave
	tw      *tar.Writer
	err     error // the first write error: the stream is broken after it
	dirs    map[string]bool
	meta    map[objectKey][]byte
	content map[ostree.Checksum]*ostree.FileHeader
	refs    map[string]ostree.Checksum
}

// spoolMemory is how much of one compressed object is held in memory
// before the rest goes to a temp file; an OCK tree has a few files above
// it. Each compressing goroutine holds one.
const spoolMemory = 4 << 20

// NewStream starts a repository at prefix (a relative slash path) in w,
// with every entry stamped mtime. Objects too large to hold in memory
// while they wait their turn are spooled to temp files in tmpDir.
func NewStream(w io.Writer, prefix string, mtime time.Time, tmpDir string, opts ...Option) (*Stream, error) {
	s := &Stream{
		enc: newEncoder(opts), prefix: strings.Trim(path.Clean("/"+prefix), "/"),
		mtime: mtime.Truncate(time.Second), tmpDir: tmpDir, spoolLimit: spoolMemory, tw: tar.NewWriter(w),
		dirs: map[string]bool{}, meta: map[objectKey][]byte{},
		content: map[ostree.Checksum]*ostree.FileHeader{}, refs: map[string]ostree.Checksum{},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The same directories Create makes, less the scratch ones (tmp, state)
	// that have no place in an image.
	for _, d := range []string{"extensions", "refs/heads", "refs/mirrors", "refs/remotes"} {
		s.dir(d)
	}
	for i := 0; i < 256; i++ {
		s.dir(fmt.Sprintf("objects/%02x", i))
	}
	if s.err != nil {
		return nil, fmt.Errorf("write repository: %w", s.err)
	}
	return s, nil
}

// dir adds the directory p of the repository and its missing parents.
// Callers hold mu.
func (s *Stream) dir(p string) {
	name := strings.Trim(path.Join(s.prefix, p), "/")
	var parents []string
	for d := name; d != "." && d != "" && !s.dirs[d]; d = path.Dir(d) {
		parents = append(parents, d)
	}
	for _, d := range slices.Backward(parents) {
		s.dirs[d] = true
		if s.err == nil {
			s.err = s.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: s.mtime})
		}
	}
}

// file adds the regular file p of the repository. Callers hold mu.
func (s *Stream) file(p string, size int64, data io.WriterTo) error {
	if s.err != nil {
		return s.err
	}
	s.err = s.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path.Join(s.prefix, p), Mode: 0o644, Size: size, ModTime: s.mtime})
	if s.err == nil {
		_, s.err = data.WriteTo(s.tw)
	}
	return s.err
}

// ContentTap gets a copy of one content object's content while the Stream
// compresses it, then its checksum once it is verified (possibly of an
// object written before: the tap must allow for that). The static delta
// planner is one: it plans the delta in the same pass.
type ContentTap interface {
	io.Writer
	Done(ostree.Checksum) error
}

// SetContentTap makes tap start a ContentTap for every content object
// written from now on. Call it before the first object.
func (s *Stream) SetContentTap(tap func(h *ostree.FileHeader, size int64) ContentTap) { s.tap = tap }

// WriteFile adds a file that is not an object, such as a static delta's,
// at name (a slash path relative to the repository), with its parent
// directories. r yields exactly size bytes.
func (s *Stream) WriteFile(name string, size int64, r io.Reader) error {
	name = path.Clean(name)
	if !fs.ValidPath(name) || name == "." {
		return fmt.Errorf("write repository file %q: not a relative path", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dir(path.Dir(name))
	if err := s.file(name, size, readerWriterTo{r, size}); err != nil {
		return fmt.Errorf("write repository file %s: %w", name, err)
	}
	return nil
}

// Refs returns the refs set so far.
func (s *Stream) Refs() map[string]ostree.Checksum {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.refs)
}

// TempDir is where scratch files may go.
func (s *Stream) TempDir() string { return s.tmpDir }

// Has reports whether the object has been written.
func (s *Stream) Has(c ostree.Checksum, t ostree.ObjectType) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t == ostree.ObjFileZ || t == ostree.ObjFile {
		_, ok := s.content[c]
		return ok
	}
	_, ok := s.meta[objectKey{c, t}]
	return ok
}

// WriteMetadata adds a commit, commitmeta, dirtree or dirmeta object after
// checking that data hashes to c (commitmeta is named after its commit).
func (s *Stream) WriteMetadata(t ostree.ObjectType, c ostree.Checksum, data []byte) error {
	if err := checkMetadata(t, c, data); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := objectKey{c, t}
	if _, ok := s.meta[k]; ok {
		return nil
	}
	if err := s.file(ostree.ObjectPath(c, t), int64(len(data)), byteWriter(data)); err != nil {
		return fmt.Errorf("write %s object %s: %w", t, c, err)
	}
	s.meta[k] = data
	return nil
}

// ReadMetadata returns a metadata object written before.
func (s *Stream) ReadMetadata(t ostree.ObjectType, c ostree.Checksum) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.meta[objectKey{c, t}]
	if !ok {
		return nil, fmt.Errorf("%s object %s: %w", t, c, fs.ErrNotExist)
	}
	return b, nil
}

// WriteContent compresses a content object into the stream and checks that
// its header and content hash to c; see Repo.WriteContent.
func (s *Stream) WriteContent(c ostree.Checksum, h *ostree.FileHeader, size int64, content io.Reader) error {
	_, err := s.writeContent(&c, h, size, content)
	return err
}

// AddContent adds a new content object and returns its checksum.
func (s *Stream) AddContent(h *ostree.FileHeader, size int64, content io.Reader) (ostree.Checksum, error) {
	return s.writeContent(nil, h, size, content)
}

func (s *Stream) writeContent(want *ostree.Checksum, h *ostree.FileHeader, size int64, content io.Reader) (ostree.Checksum, error) {
	name := "new content object"
	if want != nil {
		name = "content object " + want.String()
	}
	if err := h.Validate(); err != nil {
		return ostree.Checksum{}, fmt.Errorf("%s: %w", name, err)
	}
	sp := s.spool()
	defer s.spools.Put(sp)
	defer sp.reset()
	var tap ContentTap
	if s.tap != nil {
		tap = s.tap(h, size)
	}
	c, err := s.enc.encode(sp, want, h, size, content, tap)
	if err != nil {
		return ostree.Checksum{}, fmt.Errorf("%s: %w", name, err)
	}
	// Outside mu: a tap may take a while (hash a full delta part).
	if tap != nil {
		if err := tap.Done(c); err != nil {
			return ostree.Checksum{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.content[c]; ok {
		return c, nil // the same object twice: once is enough
	}
	if err := s.file(ostree.ObjectPath(c, ostree.ObjFileZ), sp.size(), sp); err != nil {
		return ostree.Checksum{}, fmt.Errorf("write content object %s: %w", c, err)
	}
	s.content[c] = h
	return c, nil
}

func (s *Stream) spool() *spool {
	if sp, ok := s.spools.Get().(*spool); ok {
		return sp
	}
	return &spool{dir: s.tmpDir, limit: s.spoolLimit}
}

// ContentHeader returns the header of a content object written before.
func (s *Stream) ContentHeader(c ostree.Checksum) (*ostree.FileHeader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.content[c]
	if !ok {
		return nil, fmt.Errorf("content object %s: %w", c, fs.ErrNotExist)
	}
	return h, nil
}

// SetRef points refs/heads/name at c, once the stream is closed.
func (s *Stream) SetRef(name string, c ostree.Checksum) error {
	if err := CheckRefName(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs[name] = c
	return nil
}

// Close writes the config and the refs, and ends the tar stream (without
// closing the writer under it).
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.file("config", int64(len(Config)), byteWriter([]byte(Config)))
	for _, name := range slices.Sorted(maps.Keys(s.refs)) {
		p := path.Join("refs/heads", name)
		s.dir(path.Dir(p))
		ref := s.refs[name].String() + "\n"
		s.file(p, int64(len(ref)), byteWriter([]byte(ref)))
	}
	if s.err == nil {
		s.err = s.tw.Close()
	}
	if s.err != nil {
		return fmt.Errorf("write repository: %w", s.err)
	}
	return nil
}

// readerWriterTo copies exactly n bytes of r.
type readerWriterTo struct {
	r io.Reader
	n int64
}

func (rw readerWriterTo) WriteTo(w io.Writer) (int64, error) {
	n, err := io.CopyN(w, rw.r, rw.n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

type byteWriter []byte

func (b byteWriter) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b)
	return int64(n), err
}
