// Package archiverepo reads and writes OSTree repositories in archive mode
// ("archive-z2"): the layout libostree pulls over plain HTTP.
//
// Every object is verified against its name before it gets that name, so a
// repository written here never holds a corrupt object, even if the writer
// is interrupted: unverified data only ever lives in dot-prefixed temp files.
package archiverepo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// Config is the repository configuration libostree expects of an archive.
const Config = "[core]\nrepo_version=1\nmode=archive-z2\n"

// DefaultLevel is the deflate level for content objects. Object names do not
// depend on it; 6 matches libostree's own default, so archives come out the
// same size as those `ostree pull-local` writes.
const DefaultLevel = 6

// Repo is an archive repository on disk. Its methods are safe for concurrent
// use.
type Repo struct {
	dir     string
	enc     *encoder
	buffers sync.Pool // *bufio.Writer
	tmpSeq  atomic.Uint64
	// noTmpfile is set once the filesystem refused O_TMPFILE.
	noTmpfile atomic.Bool
	// tmpPrefix names temp files after this process: two writers never
	// collide, and leftovers say whose they were.
	tmpPrefix string
	// have records the objects written since Create, so that Has needs no
	// stat for a repository this process made (every object of it is here).
	have  sync.Map // objectKey -> struct{}
	fresh bool
}

type objectKey struct {
	c ostree.Checksum
	t ostree.ObjectType
}

// Option configures a Repo or a Stream.
type Option func(*encoder)

// WithCompressionLevel sets the deflate level (1-9) for new content objects.
func WithCompressionLevel(level int) Option { return func(e *encoder) { e.level = level } }

// Create initialises an empty archive repository in dir, which must be
// empty or absent.
func Create(dir string, opts ...Option) (*Repo, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create repository: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("create repository: %w", err)
	}
	if len(entries) != 0 {
		return nil, fmt.Errorf("create repository in %s: directory is not empty", dir)
	}
	for _, d := range []string{"refs/heads", "refs/remotes", "refs/mirrors", "tmp", "extensions", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create repository: %w", err)
		}
	}
	// Creating all 256 fan-out directories up front keeps MkdirAll off the
	// per-object path.
	for i := 0; i < 256; i++ {
		if err := os.MkdirAll(filepath.Join(dir, "objects", fmt.Sprintf("%02x", i)), 0o755); err != nil {
			return nil, fmt.Errorf("create repository: %w", err)
		}
	}
	r := newRepo(dir, opts)
	r.fresh = true
	if err := r.writeFile(filepath.Join(dir, "config"), []byte(Config), false); err != nil {
		return nil, fmt.Errorf("create repository: %w", err)
	}
	return r, nil
}

// Open opens an existing archive repository.
func Open(dir string, opts ...Option) (*Repo, error) {
	cfg, err := os.ReadFile(filepath.Join(dir, "config"))
	if err != nil {
		return nil, fmt.Errorf("open OSTree repository %s: %w", dir, err)
	}
	mode := ""
	sc := bufio.NewScanner(strings.NewReader(string(cfg)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.TrimSpace(k) == "mode" {
			mode = strings.TrimSpace(v)
		}
	}
	if mode != "archive-z2" && mode != "archive" {
		return nil, fmt.Errorf("open OSTree repository %s: mode %q is not an archive repository; convert it with `ostree pull-local`", dir, mode)
	}
	return newRepo(dir, opts), nil
}

func newRepo(dir string, opts []Option) *Repo {
	return &Repo{dir: dir, enc: newEncoder(opts), tmpPrefix: tempPrefix()}
}

// Dir returns the repository's root directory.
func (r *Repo) Dir() string { return r.dir }

// TempDir is where scratch files for this repository may go: its tmp/,
// on the same filesystem.
func (r *Repo) TempDir() string { return filepath.Join(r.dir, "tmp") }

func (r *Repo) objectPath(c ostree.Checksum, t ostree.ObjectType) string {
	return filepath.Join(r.dir, ostree.ObjectPath(c, t))
}

// Has reports whether the object is present.
func (r *Repo) Has(c ostree.Checksum, t ostree.ObjectType) bool {
	if _, ok := r.have.Load(objectKey{c, t}); ok || r.fresh {
		return ok
	}
	_, err := os.Lstat(r.objectPath(c, t))
	return err == nil
}

// ErrChecksum reports an object whose data does not match its name.
var ErrChecksum = errors.New("checksum mismatch")

// WriteMetadata stores a commit, commitmeta, dirtree or dirmeta object after
// checking that data hashes to c (commitmeta is named after its commit, so
// it cannot be checked).
func (r *Repo) WriteMetadata(t ostree.ObjectType, c ostree.Checksum, data []byte) error {
	if err := checkMetadata(t, c, data); err != nil {
		return err
	}
	if err := r.writeFile(r.objectPath(c, t), data, true); err != nil {
		return fmt.Errorf("write %s object %s: %w", t, c, err)
	}
	r.have.Store(objectKey{c, t}, struct{}{})
	return nil
}

func checkMetadata(t ostree.ObjectType, c ostree.Checksum, data []byte) error {
	if t.IsMetadata() {
		if got := ostree.SumBytes(data); got != c {
			return fmt.Errorf("%s object %s: %w (data hashes to %s)", t, c, ErrChecksum, got)
		}
	} else if t != ostree.ObjCommitMeta {
		return fmt.Errorf("%s object %s: not a metadata object", t, c)
	}
	return nil
}

// ReadMetadata returns a metadata object's bytes.
func (r *Repo) ReadMetadata(t ostree.ObjectType, c ostree.Checksum) ([]byte, error) {
	b, err := os.ReadFile(r.objectPath(c, t))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s object %s: %w", t, c, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s object %s: %w", t, c, err)
	}
	return b, nil
}

// WriteContent compresses a content object into the repository and checks
// that its header and content hash to c. content is read to EOF and must
// hold exactly size bytes (nothing for a symlink).
func (r *Repo) WriteContent(c ostree.Checksum, h *ostree.FileHeader, size int64, content io.Reader) error {
	_, err := r.writeContent(&c, h, size, content)
	return err
}

// AddContent stores a new content object and returns its checksum, which
// it computes on the way: for files made here rather than copied from
// another repository.
func (r *Repo) AddContent(h *ostree.FileHeader, size int64, content io.Reader) (ostree.Checksum, error) {
	return r.writeContent(nil, h, size, content)
}

// writeContent writes a content object and names it by what it hashes
// to, which must be *want if want is set.
func (r *Repo) writeContent(want *ostree.Checksum, h *ostree.FileHeader, size int64, content io.Reader) (ostree.Checksum, error) {
	// A new object's fan-out directory is known only once it is hashed;
	// its temp file goes one level up, on the same filesystem.
	name, tmpDir := "new content object", filepath.Join(r.dir, "objects")
	if want != nil {
		name, tmpDir = "content object "+want.String(), filepath.Dir(r.objectPath(*want, ostree.ObjFileZ))
	}
	if err := h.Validate(); err != nil {
		return ostree.Checksum{}, fmt.Errorf("%s: %w", name, err)
	}
	f, err := r.createTemp(tmpDir, true)
	if err != nil {
		return ostree.Checksum{}, fmt.Errorf("write %s: %w", name, err)
	}
	defer f.discard()
	bw := r.bufferedWriter(f)
	defer r.buffers.Put(bw)
	c, err := r.enc.encode(bw, want, h, size, content, nil)
	if err != nil {
		return ostree.Checksum{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return ostree.Checksum{}, fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.publish(r.objectPath(c, ostree.ObjFileZ)); err != nil {
		return ostree.Checksum{}, fmt.Errorf("write %s: %w", name, err)
	}
	r.have.Store(objectKey{c, ostree.ObjFileZ}, struct{}{})
	return c, nil
}

func (r *Repo) bufferedWriter(w io.Writer) *bufio.Writer {
	if bw, ok := r.buffers.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, 64<<10)
}

// Content is an open content object.
type Content struct {
	Header *ostree.FileHeader
	Size   int64
	io.Reader
	f *os.File
}

func (c *Content) Close() error { return c.f.Close() }

// OpenContent opens a content object for reading its uncompressed content.
func (r *Repo) OpenContent(c ostree.Checksum) (*Content, error) {
	f, err := os.Open(r.objectPath(c, ostree.ObjFileZ))
	if err != nil {
		return nil, fmt.Errorf("open content object %s: %w", c, err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(64 << 10)
	h, size, n, err := ostree.ParseArchiveHeader(head)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("content object %s: %w", c, err)
	}
	br.Discard(n)
	obj := &Content{Header: h, Size: int64(size), f: f, Reader: eofReader{}}
	if !h.IsSymlink() {
		obj.Reader = io.LimitReader(flate.NewReader(br), int64(size))
	}
	return obj, nil
}

// ContentHeader returns a content object's header (mode, owner, xattrs).
func (r *Repo) ContentHeader(c ostree.Checksum) (*ostree.FileHeader, error) {
	obj, err := r.OpenContent(c)
	if err != nil {
		return nil, err
	}
	obj.Close()
	return obj.Header, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

var refName = regexp.MustCompile(`^[\w\d][-._\w\d]*(/[\w\d][-._\w\d]*)*$`)

// CheckRefName rejects a name libostree would not accept as a ref.
func CheckRefName(name string) error {
	if !refName.MatchString(name) {
		return fmt.Errorf("invalid ref name %q: use letters, digits, '-', '_', '.', separated by '/'", name)
	}
	return nil
}

// SetRef points refs/heads/name at c.
func (r *Repo) SetRef(name string, c ostree.Checksum) error {
	if err := CheckRefName(name); err != nil {
		return err
	}
	p := filepath.Join(r.dir, "refs", "heads", filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("set ref %s: %w", name, err)
	}
	if err := r.writeFile(p, []byte(c.String()+"\n"), false); err != nil {
		return fmt.Errorf("set ref %s: %w", name, err)
	}
	return nil
}

// ResolveRef reads refs/heads/name.
func (r *Repo) ResolveRef(name string) (ostree.Checksum, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, "refs", "heads", filepath.FromSlash(name)))
	if errors.Is(err, fs.ErrNotExist) {
		return ostree.Checksum{}, fmt.Errorf("ref %q not found in %s", name, r.dir)
	}
	if err != nil {
		return ostree.Checksum{}, fmt.Errorf("resolve ref %s: %w", name, err)
	}
	return ostree.ParseChecksum(strings.TrimSpace(string(b)))
}

// Refs lists refs/heads.
func (r *Repo) Refs() (map[string]ostree.Checksum, error) {
	root := filepath.Join(r.dir, "refs", "heads")
	refs := map[string]ostree.Checksum{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name, _ := filepath.Rel(root, p)
		c, err := r.ResolveRef(filepath.ToSlash(name))
		refs[filepath.ToSlash(name)] = c
		return err
	})
	return refs, err
}
