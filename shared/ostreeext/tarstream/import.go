package tarstream

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/ostree"
)

// maxMetadataSize bounds what one metadata object may make us hold in
// memory; libostree's own limit is 128 MiB.
const maxMetadataSize = 128 << 20

// Files up to this size are read into memory and compressed by a worker
// while the tar stream moves on; larger ones stream through a pipe.
const bufferedFileSize = 1 << 20

const paxXattrPrefix = "SCHILY.xattr."

// Importer writes the OSTree objects found in ostree-ext layers into a
// Store, verifying each against its name. Feed it every layer
// of an image (in any order), then call Finish. Memory stays bounded by the
// number of distinct xattr sets, not by the size of the image.
type Importer struct {
	repo    Store
	workers int

	// xattrs holds every distinct xattrs set seen so far, parsed, by the
	// sha256 of its serialised bytes; ostree-ext writes each set once per
	// image. The headers of the objects that link a set share its slice
	// (an OS tree has a few hundred sets for tens of thousands of files),
	// so nothing downstream may modify a header's Xattrs.
	xattrs map[ostree.Checksum]ostree.Xattrs
	// pending maps a content object to the xattrs its link entry named;
	// links come right before their object, so this stays tiny.
	pending map[ostree.Checksum]ostree.Checksum
	commits []ostree.Checksum
	objects int
	bufs    bufPools
	layer   LayerStats // of the layer being read
}

// LayerStats counts what one layer held.
type LayerStats struct {
	// Objects is how many OSTree objects (metadata and content) it held.
	Objects int
	// Files is how many non-directory entries it held outside sysroot/:
	// the checked-out tree. A layer with files and no objects
	// is not an ostree layer but a derived one, whatever labels say.
	Files int
}

// ImporterOption configures an Importer.
type ImporterOption func(*Importer)

// WithWorkers sets how many goroutines compress content (default: one per CPU).
func WithWorkers(n int) ImporterOption {
	return func(im *Importer) {
		if n > 0 {
			im.workers = n
		}
	}
}

// NewImporter returns an Importer that writes into repo.
func NewImporter(repo Store, opts ...ImporterOption) *Importer {
	im := &Importer{
		repo:    repo,
		workers: runtime.GOMAXPROCS(0),
		xattrs:  map[ostree.Checksum]ostree.Xattrs{},
		pending: map[ostree.Checksum]ostree.Checksum{},
	}
	for _, o := range opts {
		o(im)
	}
	return im
}

// Objects returns how many objects have been written so far.
func (im *Importer) Objects() int { return im.objects }

// job is one object for a worker to write: a metadata object (meta set)
// or a content object, buffered or streamed.
type job struct {
	sum     ostree.Checksum
	metaTyp ostree.ObjectType
	meta    []byte
	header  *ostree.FileHeader
	size    int64
	buf     *[]byte   // buffered content, returned to bufs
	pipe    io.Reader // streamed content
	name    string
}

// ImportLayer reads one uncompressed layer tar stream. Entries that are not
// part of the OSTree repository (the checked-out tree, directories, the
// repo config) are skipped, and counted: see LayerStats.
func (im *Importer) ImportLayer(ctx context.Context, r io.Reader) (LayerStats, error) {
	im.layer = LayerStats{}
	g, ctx := errgroup.WithContext(ctx)
	jobs := make(chan job, 2*im.workers)
	for i := 0; i < im.workers; i++ {
		g.Go(func() error {
			for j := range jobs {
				if err := im.write(j); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(jobs)
		return im.readTar(ctx, r, jobs)
	})
	err := g.Wait()
	return im.layer, err
}

func (im *Importer) write(j job) error {
	var err error
	switch {
	case j.meta != nil:
		err = im.repo.WriteMetadata(j.metaTyp, j.sum, j.meta)
	case j.buf != nil:
		err = im.repo.WriteContent(j.sum, j.header, j.size, bytes.NewReader((*j.buf)[:j.size]))
		im.bufs.put(j.buf)
	default:
		err = im.repo.WriteContent(j.sum, j.header, j.size, j.pipe)
	}
	if err != nil {
		if pr, ok := j.pipe.(*io.PipeReader); ok {
			pr.CloseWithError(err)
		}
		if errors.Is(err, archiverepo.ErrChecksum) {
			return fmt.Errorf("%w: the image is corrupt or was tampered with", err)
		}
		return err
	}
	return nil
}

// EachEntry calls fn for every entry of a layer tar stream, with its name
// checked (CleanName), until the end, an error or ctx is done.
func EachEntry(ctx context.Context, r io.Reader, fn func(tr *tar.Reader, hdr *tar.Header, name string) error) error {
	// tar reads headers 512 bytes at a time; an uncompressed layer would
	// otherwise cost a system call per header.
	tr := tar.NewReader(bufio.NewReaderSize(r, 256<<10))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read layer tar: %w (truncated or corrupt layer)", err)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return err // it names the entry
		}
		if err := fn(tr, hdr, name); err != nil {
			return err
		}
	}
}

func (im *Importer) readTar(ctx context.Context, r io.Reader, jobs chan<- job) error {
	return EachEntry(ctx, r, func(tr *tar.Reader, hdr *tar.Header, name string) error {
		if hdr.Typeflag == tar.TypeLink {
			if _, err := cleanName(hdr.Linkname); err != nil {
				return err
			}
		}
		e, err := classify(name)
		if err != nil {
			return err
		}
		return im.handle(ctx, tr, hdr, name, e, jobs)
	})
}

func (im *Importer) handle(ctx context.Context, tr *tar.Reader, hdr *tar.Header, name string, e entry, jobs chan<- job) error {
	switch e.kind {
	case kindNone:
		if hdr.Typeflag != tar.TypeDir && hdr.Typeflag != tar.TypeXGlobalHeader && !strings.HasPrefix(name, sysrootPrefix) {
			im.layer.Files++
		}
		return nil
	case kindXattrs, kindV0Xattrs:
		if hdr.Typeflag == tar.TypeLink {
			return nil // a second name for a set we already hold
		}
		b, err := readSmall(tr, hdr, name)
		if err != nil {
			return err
		}
		if got := ostree.SumBytes(b); got != e.checksum {
			return fmt.Errorf("xattrs object %s: %w (data hashes to %s): the image is corrupt", e.checksum, archiverepo.ErrChecksum, got)
		}
		x, err := ostree.ParseXattrs(b)
		if err != nil {
			return fmt.Errorf("xattrs object %s: %w", e.checksum, err)
		}
		im.xattrs[e.checksum] = x
		return nil
	case kindXattrsLink, kindV0XattrLink:
		return im.linkXattrs(tr, hdr, name, e)
	}

	switch e.objType {
	case ostree.ObjFile:
		return im.dispatchContent(ctx, tr, hdr, name, e.checksum, jobs)
	case ostree.ObjCommit, ostree.ObjCommitMeta, ostree.ObjDirTree, ostree.ObjDirMeta:
		if hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("%s object %s: tar entry of type %q, want a regular file", e.objType, e.checksum, hdr.Typeflag)
		}
		b, err := readSmall(tr, hdr, name)
		if err != nil {
			return err
		}
		im.objects++
		im.layer.Objects++
		if e.objType == ostree.ObjCommit {
			im.commits = append(im.commits, e.checksum)
		}
		// Workers verify and write it, so the tar stream never waits on disk.
		return send(ctx, jobs, job{sum: e.checksum, metaTyp: e.objType, meta: b})
	}
	return nil
}

// linkXattrs records which xattrs set a content object uses. Older writers
// make the link a tar hard link to the set; bootc-era writers make it a
// regular file holding the set itself.
func (im *Importer) linkXattrs(tr *tar.Reader, hdr *tar.Header, name string, e entry) error {
	switch hdr.Typeflag {
	case tar.TypeLink:
		target, _ := cleanName(hdr.Linkname)
		t, err := classify(target)
		if err != nil {
			return err
		}
		if t.kind != kindXattrs && t.kind != kindV0Xattrs {
			return fmt.Errorf("xattrs link %q points at %q, which is not an xattrs object", name, hdr.Linkname)
		}
		if _, ok := im.xattrs[t.checksum]; !ok {
			return fmt.Errorf("xattrs link %q points at %q, which the image has not provided before it", name, hdr.Linkname)
		}
		im.pending[e.checksum] = t.checksum
	case tar.TypeReg:
		b, err := readSmall(tr, hdr, name)
		if err != nil {
			return err
		}
		x, err := ostree.ParseXattrs(b)
		if err != nil {
			return fmt.Errorf("xattrs link %q: %w", name, err)
		}
		sum := ostree.SumBytes(b)
		if _, ok := im.xattrs[sum]; !ok {
			im.xattrs[sum] = x
		}
		im.pending[e.checksum] = sum
	default:
		return fmt.Errorf("xattrs link %q: unexpected tar entry type %q", name, hdr.Typeflag)
	}
	return nil
}

func (im *Importer) xattrsFor(sum ostree.Checksum, hdr *tar.Header) ostree.Xattrs {
	if xs, ok := im.pending[sum]; ok {
		delete(im.pending, sum)
		return im.xattrs[xs]
	}
	return PAXXattrs(hdr)
}

// PAXXattrs returns the xattrs a tar entry carries as PAX records.
func PAXXattrs(hdr *tar.Header) ostree.Xattrs {
	var x ostree.Xattrs
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, paxXattrPrefix); ok {
			x = append(x, ostree.Xattr{Name: name, Value: []byte(v)})
		}
	}
	return x.Sorted()
}

func (im *Importer) dispatchContent(ctx context.Context, tr *tar.Reader, hdr *tar.Header, name string, sum ostree.Checksum, jobs chan<- job) error {
	h := &ostree.FileHeader{UID: uint32(hdr.Uid), GID: uint32(hdr.Gid)}
	// v1 tar modes carry only permission bits; v0 ones also the type.
	perm := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeReg:
		h.Mode = ostree.ModeRegular | perm
	case tar.TypeSymlink:
		// libostree stores every symlink as 0777, whatever the tar says.
		h.Mode = ostree.ModeSymlink | 0o777
		h.SymlinkTarget = hdr.Linkname
	case tar.TypeLink:
		return nil // a checkout path pointing back at an object we already have
	default:
		return fmt.Errorf("content object %s: unsupported tar entry type %q", sum, hdr.Typeflag)
	}
	h.Xattrs = im.xattrsFor(sum, hdr)
	im.objects++
	im.layer.Objects++
	if im.repo.Has(sum, ostree.ObjFileZ) {
		return nil
	}
	j := job{sum: sum, header: h, name: "content object " + sum.String()}
	if h.IsSymlink() {
		j.pipe = eof{}
		return send(ctx, jobs, j)
	}
	j.size = hdr.Size
	if hdr.Size <= bufferedFileSize {
		bp := im.bufs.get(int(hdr.Size))
		if _, err := io.ReadFull(tr, (*bp)[:hdr.Size]); err != nil {
			im.bufs.put(bp)
			return fmt.Errorf("%s: read: %w (truncated layer)", j.name, err)
		}
		j.buf = bp
		return send(ctx, jobs, j)
	}
	pr, pw := io.Pipe()
	j.pipe = pr
	if err := send(ctx, jobs, j); err != nil {
		return err
	}
	_, err := io.Copy(pw, tr)
	pw.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("%s: read: %w (truncated or corrupt layer)", j.name, err)
	}
	return nil
}

// bufPools recycles the buffers of buffered files by size class, so that
// the few dozen in flight hold about what their files need: most files of
// an OS tree are a few KiB, and a buffer of bufferedFileSize for each would
// make them the largest part of the heap.
type bufPools [3]sync.Pool // *[]byte of 16 KiB, 128 KiB and bufferedFileSize

func bufClass(n int) (int, int) {
	switch {
	case n <= 16<<10:
		return 0, 16 << 10
	case n <= 128<<10:
		return 1, 128 << 10
	default:
		return 2, bufferedFileSize
	}
}

// get returns a buffer of at least n bytes, at most bufferedFileSize.
func (p *bufPools) get(n int) *[]byte {
	i, size := bufClass(n)
	if b, ok := p[i].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, size)
	return &b
}

func (p *bufPools) put(b *[]byte) {
	i, _ := bufClass(len(*b))
	p[i].Put(b)
}

func send(ctx context.Context, jobs chan<- job, j job) error {
	select {
	case jobs <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func readSmall(tr *tar.Reader, hdr *tar.Header, name string) ([]byte, error) {
	if hdr.Size > maxMetadataSize {
		return nil, fmt.Errorf("%s: %d bytes is larger than any OSTree metadata object may be", name, hdr.Size)
	}
	b := make([]byte, hdr.Size)
	if _, err := io.ReadFull(tr, b); err != nil {
		return nil, fmt.Errorf("%s: read: %w (truncated layer)", name, err)
	}
	return b, nil
}

type eof struct{}

func (eof) Read([]byte) (int, error) { return 0, io.EOF }

// ErrIncomplete reports a commit whose closure the image does not hold.
var ErrIncomplete = errors.New("object missing from the image")

// Finish checks that the image held commit and every object it reaches.
func (im *Importer) Finish(commit ostree.Checksum) (*ostree.Commit, error) {
	for c := range im.pending {
		return nil, fmt.Errorf("xattrs link for content object %s, but the image has no such object: %w", c, ErrIncomplete)
	}
	found := false
	for _, c := range im.commits {
		found = found || c == commit
	}
	if !found {
		return nil, fmt.Errorf("commit %s: %w (the image labels it as its ostree.commit but does not contain it)", commit, ErrIncomplete)
	}
	c, err := archiverepo.Walk(im.repo, commit, func(p string, t ostree.ObjectType, c ostree.Checksum) error {
		if t == ostree.ObjFileZ && !im.repo.Has(c, t) {
			return fmt.Errorf("commit %s: content object %s for %s: %w", commit, c, p, ErrIncomplete)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("commit %s: %w: %w", commit, err, ErrIncomplete)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}
