package staticdelta

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sync"

	"github.com/ulikunitz/xz"

	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostree/deltapart"
)

// Sink receives the files of a delta and the summary. name is a slash path
// relative to the repository root (deltas/..., delta-indexes/..., summary);
// r yields exactly size bytes.
type Sink interface {
	WriteFile(name string, size int64, r io.Reader) error
}

// Compression is how part files are stored.
type Compression int

const (
	// Stored parts hold the payload uncompressed inside an .xz container
	// (the only way libostree reads an uncompressed part of over 16 KiB):
	// no compression time, and the same bytes from the same objects.
	Stored Compression = iota
	// XZ parts are LZMA2-compressed, as `ostree static-delta generate`
	// writes them: smaller on the wire, slower to write and to open.
	XZ
)

func (c Compression) String() string {
	if c == XZ {
		return "xz"
	}
	return "stored"
}

const (
	// DefaultPartSize is the payload a part carries before the next one
	// starts. See the package documentation for why.
	DefaultPartSize = 8 << 20
	// DefaultMaxInline is the largest object carried inline; larger ones
	// are fallbacks the client fetches loose. libostree 2026.3 refuses a
	// part that unpacks to more than 512 MiB, and a part is held in the
	// writer's memory, so a giant file is better one request on its own.
	DefaultMaxInline = 128 << 20
	// maxSuperblock is the largest superblock libostree will fetch
	// (OSTREE_MAX_METADATA_SIZE).
	maxSuperblock = 10 << 20
)

// Options tune a Writer; the zero value gives the defaults.
type Options struct {
	PartSize    int64 // target payload bytes per part
	MaxInline   int64 // larger content objects become fallbacks
	Compression Compression
}

func (o Options) withDefaults() Options {
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.MaxInline <= 0 {
		o.MaxInline = DefaultMaxInline
	}
	return o
}

// Delta describes a written delta: what a summary or delta index lists,
// and what `ostree static-delta show` reports.
type Delta struct {
	To ostree.Checksum
	// Superblock is the sha256 of the superblock file, which the summary
	// and the delta index vouch for.
	Superblock ostree.Checksum
	Parts      []ostree.DeltaPartHeader
	Fallbacks  []ostree.DeltaFallback
}

// Size returns the bytes of all part files, and the objects they hold.
func (d *Delta) Size() (partBytes, objects int) {
	for _, p := range d.Parts {
		partBytes += int(p.Size)
		objects += len(p.Objects)
	}
	return partBytes, objects
}

type objectKey struct {
	t ostree.ObjectType
	c ostree.Checksum
}

// Writer writes a from-scratch static delta for one commit: every object
// reachable from it, content in parts as it arrives, each dirtree in the
// part that completes its subtree if there is one, else in the last parts
// (see the package documentation for why). Metadata added before the
// content it names is placed best. Content objects over MaxInline become
// fallbacks: their content is not read. Objects may
// come in any order and more than once; the output depends only on the
// sequence of calls, so the same input gives byte-identical files. Its
// methods are safe for concurrent use. After an error the Writer is
// unusable.
type Writer struct {
	sink   Sink
	opts   Options
	to     ostree.Checksum
	commit *ostree.Commit
	data   []byte // the commit object
	detach []byte // its detached metadata, if any

	mu     sync.Mutex
	err    error
	seen   map[objectKey]bool
	meta   map[objectKey][]byte
	cur    *partBuilder
	delta  Delta
	placed map[objectKey]bool // metadata already in a part
	trees  map[ostree.Checksum]*ostree.DirTree
}

// NewWriter starts the delta to the commit whose serialised object is
// commit (checked against its checksum to). commitMeta is the commit's
// detached metadata (signatures) or nil.
func NewWriter(sink Sink, to ostree.Checksum, commit, commitMeta []byte, opts Options) (*Writer, error) {
	if got := ostree.SumBytes(commit); got != to {
		return nil, fmt.Errorf("static delta: commit object hashes to %s, not %s", got, to)
	}
	c, err := ostree.ParseCommit(commit)
	if err != nil {
		return nil, fmt.Errorf("static delta to %s: %w", to, err)
	}
	return &Writer{
		sink: sink, opts: opts.withDefaults(), to: to, commit: c, data: commit, detach: commitMeta,
		seen: map[objectKey]bool{}, meta: map[objectKey][]byte{},
		placed: map[objectKey]bool{}, trees: map[ostree.Checksum]*ostree.DirTree{},
		delta: Delta{To: to},
	}, nil
}

// ErrChecksum reports an object whose data does not match its name.
var ErrChecksum = errors.New("checksum mismatch")

// AddMetadata adds a dirtree or dirmeta object. The commit comes with
// NewWriter; anything else is refused.
func (w *Writer) AddMetadata(t ostree.ObjectType, c ostree.Checksum, data []byte) error {
	if t != ostree.ObjDirTree && t != ostree.ObjDirMeta {
		return fmt.Errorf("static delta: %s object %s: only dirtree and dirmeta objects go into parts", t, c)
	}
	if got := ostree.SumBytes(data); got != c {
		return fmt.Errorf("static delta: %s object %s: %w (data hashes to %s)", t, c, ErrChecksum, got)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	k := objectKey{t, c}
	if !w.seen[k] {
		w.seen[k] = true
		w.meta[k] = bytes.Clone(data)
	}
	return nil
}

// AddContent adds a content object: its header, and content yielding
// exactly size bytes (nothing for a symlink, whose target is in h). The
// content is checked against c as it is read.
func (w *Writer) AddContent(c ostree.Checksum, h *ostree.FileHeader, size int64, content io.Reader) error {
	if err := h.Validate(); err != nil {
		return fmt.Errorf("static delta: content object %s: %w", c, err)
	}
	w.mu.Lock()
	if w.err != nil || w.seen[objectKey{ostree.ObjFile, c}] {
		defer w.mu.Unlock()
		return w.err
	}
	w.mu.Unlock()

	if h.IsSymlink() {
		size = 0
	}
	if size > w.opts.MaxInline {
		// Fallbacks are fetched loose from the archive, so only the
		// content's size is needed here, not the content.
		return w.add(c, func() {
			w.delta.Fallbacks = append(w.delta.Fallbacks, ostree.DeltaFallback{
				Object: ostree.DeltaObject{Type: ostree.ObjFile, Checksum: c}, Size: uint64(size), USize: uint64(size),
			})
		})
	}
	// Read and verify outside the lock: other objects can be added
	// meanwhile.
	data := make([]byte, 0, size)
	sum := ostree.NewContentHash(h)
	buf := bytes.NewBuffer(data)
	n, err := io.Copy(io.MultiWriter(buf, sum), content)
	if err != nil {
		return fmt.Errorf("static delta: read content object %s: %w", c, err)
	}
	if n != size {
		return fmt.Errorf("static delta: content object %s: got %d bytes, header says %d: %w", c, n, size, io.ErrUnexpectedEOF)
	}
	if got := ostree.SumHash(sum); got != c {
		return fmt.Errorf("static delta: content object %s: %w (data hashes to %s)", c, ErrChecksum, got)
	}
	if h.IsSymlink() {
		buf.WriteString(h.SymlinkTarget)
	}
	return w.add(c, func() { w.part(int64(buf.Len())).addContent(c, h, buf.Bytes()) })
}

// add records content object c once, running record under the lock.
func (w *Writer) add(c ostree.Checksum, record func()) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	k := objectKey{ostree.ObjFile, c}
	if w.seen[k] {
		return nil
	}
	w.seen[k] = true
	record()
	return w.err
}

// part returns the part the next object of n bytes goes into, finishing
// the current one if the object would take it past the part size. Callers
// hold mu.
func (w *Writer) part(n int64) *partBuilder {
	if w.cur != nil && len(w.cur.objects) > 0 && int64(len(w.cur.payload))+n > w.opts.PartSize {
		w.flush()
	}
	if w.cur == nil {
		w.cur = newPartBuilder()
	}
	return w.cur
}

// flush writes the current part out, with the metadata that can go into
// it (see placeMetadata). Callers hold mu.
func (w *Writer) flush() {
	if w.cur == nil || len(w.cur.objects) == 0 || w.err != nil {
		return
	}
	w.placeMetadata()
	i := len(w.delta.Parts)
	file, err := w.cur.file(w.opts.Compression)
	if err != nil {
		w.err = fmt.Errorf("static delta part %d: %w", i, err)
		return
	}
	w.delta.Parts = append(w.delta.Parts, ostree.DeltaPartHeader{
		Checksum: sha256.Sum256(file), Size: uint64(len(file)), USize: w.cur.usize, Objects: w.cur.objects,
	})
	w.cur = nil
	if err := w.sink.WriteFile(ostree.ScratchDeltaPartPath(w.to, i), int64(len(file)), bytes.NewReader(file)); err != nil {
		w.err = fmt.Errorf("static delta part %d: %w", i, err)
	}
}

// placeMetadata adds to the current part every dirtree whose whole
// subtree is in it, children first, and, to the first part, every dirmeta
// known so far. A libostree before 2023.7 walks the commit while the parts
// arrive (in no fixed order) and fetches loose whatever a dirtree it
// finds lists and it lacks; a dirtree that arrives with its subtree gives
// it nothing to fetch. Dirmetas name no other object, so they are safe
// anywhere. Callers hold mu.
func (w *Writer) placeMetadata() {
	p := w.cur
	if len(w.delta.Parts) == 0 {
		for _, k := range w.metaKeys(ostree.ObjDirMeta) {
			w.placeObject(k)
		}
	}
	complete := map[ostree.Checksum]bool{}
	var visit func(tree ostree.Checksum) bool
	visit = func(tree ostree.Checksum) bool {
		if done, ok := complete[tree]; ok {
			return done
		}
		k := objectKey{ostree.ObjDirTree, tree}
		if w.placed[k] { // in an earlier part: not this part's to complete
			complete[tree] = false
			return false
		}
		t := w.tree(tree)
		ok := t != nil
		if ok {
			for _, f := range t.Files {
				if !p.has[f.Checksum] {
					ok = false
				}
			}
			for _, d := range t.Dirs {
				// Visit every child, so that complete subtrees below an
				// incomplete one are placed too.
				if !visit(d.Tree) || !w.placed[objectKey{ostree.ObjDirMeta, d.Meta}] {
					ok = false
				}
			}
		}
		if ok {
			w.placeObject(k)
		}
		complete[tree] = ok
		return ok
	}
	visit(w.commit.RootTree)
}

// tree returns a parsed dirtree added earlier, or nil.
func (w *Writer) tree(c ostree.Checksum) *ostree.DirTree {
	if t, ok := w.trees[c]; ok {
		return t
	}
	data := w.meta[objectKey{ostree.ObjDirTree, c}]
	if data == nil {
		return nil
	}
	t, err := ostree.ParseDirTree(data)
	if err != nil {
		t = nil // Close reports it
	}
	w.trees[c] = t
	return t
}

func (w *Writer) placeObject(k objectKey) {
	if !w.placed[k] {
		w.placed[k] = true
		w.cur.addMetadata(k.t, k.c, w.meta[k])
	}
}

// metaKeys lists the metadata objects of type t added so far, by checksum.
func (w *Writer) metaKeys(t ostree.ObjectType) []objectKey {
	var keys []objectKey
	for k := range w.meta {
		if k.t == t {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b objectKey) int { return bytes.Compare(a.c[:], b.c[:]) })
	return keys
}

// Close writes the remaining parts, the superblock and the delta index.
// It fails, naming the object, if the commit's closure is not complete:
// a client that trusts the delta (libostree since 2023.7 no longer walks a
// commit it got from a delta) would otherwise end up with a broken tree.
func (w *Writer) Close() (*Delta, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return nil, w.err
	}
	w.flush()
	order, err := w.metadataOrder()
	if err != nil {
		w.err = err
		return nil, err
	}
	for _, k := range order {
		if !w.placed[k] {
			w.part(int64(len(w.meta[k])))
			w.placeObject(k)
		}
	}
	w.flush()
	if w.err != nil {
		return nil, w.err
	}
	sb := w.superblock()
	if len(sb) > maxSuperblock {
		w.err = fmt.Errorf("static delta: superblock of %d bytes is over the %d clients accept: use a larger part size", len(sb), maxSuperblock)
		return nil, w.err
	}
	w.delta.Superblock = sha256.Sum256(sb)
	if err := w.sink.WriteFile(ostree.ScratchDeltaSuperblockPath(w.to), int64(len(sb)), bytes.NewReader(sb)); err != nil {
		w.err = fmt.Errorf("static delta superblock: %w", err)
		return nil, w.err
	}
	index := ostree.DeltaIndex(DeltaList(&w.delta))
	if err := w.sink.WriteFile(ostree.DeltaIndexPath(w.to), int64(len(index)), bytes.NewReader(index)); err != nil {
		w.err = fmt.Errorf("static delta index: %w", err)
		return nil, w.err
	}
	w.err = errors.New("static delta: writer is closed")
	d := w.delta
	return &d, nil
}

// DeltaList is the a{sv} (delta name -> superblock sha256) that a summary
// or a delta index lists deltas in. A from-scratch delta is named by its
// target commit.
func DeltaList(deltas ...*Delta) ostree.Metadata {
	var m ostree.Metadata
	for _, d := range deltas {
		m = append(m, ostree.MetaEntry{Key: d.To.String(), Value: ostree.BytesVariant(bytes.Clone(d.Superblock[:]))})
	}
	sortMetadata(m)
	return m
}

func (w *Writer) superblock() []byte {
	return superblock(w.to, w.commit, w.data, w.detach, &w.delta)
}

// superblock serialises the superblock of the delta d to commit to.
func superblock(to ostree.Checksum, commit *ostree.Commit, data, detach []byte, d *Delta) []byte {
	meta := ostree.Metadata{{Key: ostree.MetaDeltaEndianness, Value: ostree.ByteVariant('l')}}
	if detach != nil {
		meta = append(meta, ostree.MetaEntry{Key: ostree.ScratchDeltaCommitMetaKey(to), Value: ostree.Variant{Type: "a{sv}", Data: detach}})
	}
	s := ostree.DeltaSuperblock{
		Metadata: meta, Timestamp: commit.Timestamp, To: to, Commit: data,
		Parts: d.Parts, Fallbacks: d.Fallbacks,
	}
	return s.Marshal()
}

// metadataOrder walks the commit's tree through the metadata added and
// returns it children first, each dirmeta before its dirtree, the root
// last: a libostree before 2023.7 walks the commit while the parts
// arrive, and a directory it finds already written is one it need not
// fetch loose. It also checks every reachable object was added.
func (w *Writer) metadataOrder() ([]objectKey, error) {
	return metadataOrder(w.commit, func(k objectKey) []byte { return w.meta[k] },
		func(c ostree.Checksum) bool { return w.seen[objectKey{ostree.ObjFile, c}] })
}

// metadataOrder is Writer.metadataOrder over any store: meta returns a
// metadata object or nil, hasContent says whether a content object is in
// the delta.
func metadataOrder(commit *ostree.Commit, meta func(objectKey) []byte, hasContent func(ostree.Checksum) bool) ([]objectKey, error) {
	var order []objectKey
	done := map[objectKey]bool{}
	var visit func(p string, tree, dirMeta ostree.Checksum) error
	visit = func(p string, tree, dirMeta ostree.Checksum) error {
		tk, mk := objectKey{ostree.ObjDirTree, tree}, objectKey{ostree.ObjDirMeta, dirMeta}
		if meta(mk) == nil {
			return fmt.Errorf("static delta: directory %s: dirmeta %s was never added", p, dirMeta)
		}
		data := meta(tk)
		if data == nil {
			return fmt.Errorf("static delta: directory %s: dirtree %s was never added", p, tree)
		}
		if !done[tk] {
			t, err := ostree.ParseDirTree(data)
			if err != nil {
				return fmt.Errorf("static delta: directory %s: dirtree %s: %w", p, tree, err)
			}
			for _, f := range t.Files {
				if !hasContent(f.Checksum) {
					return fmt.Errorf("static delta: file %s: content object %s was never added", path.Join(p, f.Name), f.Checksum)
				}
			}
			for _, d := range t.Dirs {
				if err := visit(path.Join(p, d.Name), d.Tree, d.Meta); err != nil {
					return err
				}
			}
		}
		for _, k := range []objectKey{mk, tk} {
			if !done[k] {
				done[k] = true
				order = append(order, k)
			}
		}
		return nil
	}
	if err := visit("/", commit.RootTree, commit.RootMeta); err != nil {
		return nil, err
	}
	return order, nil
}

// partBuilder collects the objects of one part.
type partBuilder struct {
	modes     []ostree.DeltaMode
	modeIndex map[ostree.DeltaMode]int
	xattrs    []ostree.Xattrs
	xattrIdx  map[string]int
	payload   []byte
	ops       []byte
	objects   []ostree.DeltaObject
	sizes     []int64                  // of each object's bytes in the payload
	has       map[ostree.Checksum]bool // content objects
	usize     uint64
}

func newPartBuilder() *partBuilder {
	return &partBuilder{modeIndex: map[ostree.DeltaMode]int{}, xattrIdx: map[string]int{}, has: map[ostree.Checksum]bool{}}
}

func (p *partBuilder) op(args ...uint64) { p.ops = spliceOp(p.ops, args...) }

// spliceOp appends an open-splice-and-close operation with its arguments.
func spliceOp(ops []byte, args ...uint64) []byte {
	ops = append(ops, ostree.DeltaOpOpenSpliceAndClose)
	for _, a := range args {
		ops = binary.AppendUvarint(ops, a)
	}
	return ops
}

func (p *partBuilder) addMetadata(t ostree.ObjectType, c ostree.Checksum, data []byte) {
	p.op(uint64(len(data)), uint64(len(p.payload)))
	p.payload = append(p.payload, data...)
	p.objects = append(p.objects, ostree.DeltaObject{Type: t, Checksum: c})
	p.sizes = append(p.sizes, int64(len(data)))
	p.usize += uint64(len(data))
}

func (p *partBuilder) addContent(c ostree.Checksum, h *ostree.FileHeader, data []byte) {
	m := ostree.DeltaMode{UID: h.UID, GID: h.GID, Mode: h.Mode}
	mi, ok := p.modeIndex[m]
	if !ok {
		mi = len(p.modes)
		p.modeIndex[m] = mi
		p.modes = append(p.modes, m)
	}
	xb := string(h.Xattrs.Marshal())
	xi, ok := p.xattrIdx[xb]
	if !ok {
		xi = len(p.xattrs)
		p.xattrIdx[xb] = xi
		p.xattrs = append(p.xattrs, h.Xattrs)
	}
	p.op(uint64(mi), uint64(xi), uint64(len(data)), uint64(len(p.payload)))
	p.payload = append(p.payload, data...)
	p.objects = append(p.objects, ostree.DeltaObject{Type: ostree.ObjFile, Checksum: c})
	p.sizes = append(p.sizes, int64(len(data)))
	p.has[c] = true
	p.usize += uint64(len(data))
}

// file returns the part file: the compression byte, then the payload.
func (p *partBuilder) file(c Compression) ([]byte, error) {
	payload := (&ostree.DeltaPart{Modes: p.modes, Xattrs: p.xattrs, Payload: p.payload, Ops: p.ops}).Marshal()
	var b bytes.Buffer
	if c == Stored {
		b.Grow(len(payload) + len(payload)/(64<<10)*3 + 128)
		pw := deltapart.NewWriter(&b)
		pw.Write(payload)
		_, err := pw.Close()
		return b.Bytes(), err
	}
	b.WriteByte(ostree.DeltaPartXZ)
	// An 8 MiB dictionary keeps the client's decoder well under the
	// 100 MiB libostree 2026.3 allows it.
	zw, err := xz.WriterConfig{DictCap: 8 << 20, CheckSum: xz.CRC64}.NewWriter(&b)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(payload); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
