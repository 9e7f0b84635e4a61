package staticdelta

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostree/deltapart"
)

// Planner plans a from-scratch delta while the objects are written
// elsewhere, in the same pass (create streams them into the image): parts
// are not written but described by recipes (package deltapart) that the
// archive server turns into the part files on request, from the loose
// objects it serves anyway, so the delta costs the image a few hundred KB
// instead of a second copy of the tree.
//
// The superblock must list each part's sha256, so each part's bytes are
// hashed here. Small objects are kept until their part is full (a part's
// modes and xattrs come before its data); an object of over a quarter of
// the part size gets a part of its own, whose framing is known up front,
// and is hashed as it streams through. Memory therefore stays at about one
// part. Metadata objects come from the caller at Finish. Its methods are
// safe for concurrent use.
type Planner struct {
	opts Options

	mu        sync.Mutex
	err       error
	seen      map[ostree.Checksum]bool
	cur       *partBuilder
	parts     []plannedPart // content parts, as they filled
	fallbacks []ostree.DeltaFallback
	// spare is the payload buffer of the last part hashed, for the next:
	// a part's worth of garbage per part would grow the heap by as much
	// again before each collection.
	spare []byte
	bufs  sync.Pool // *[]byte: small objects' content until Done
}

type plannedPart struct {
	header ostree.DeltaPartHeader
	recipe *deltapart.Recipe
}

// NewPlanner starts a delta plan; Compression is ignored (parts are
// stored).
func NewPlanner(opts Options) *Planner {
	return &Planner{opts: opts.withDefaults(), seen: map[ostree.Checksum]bool{}}
}

// ContentWriter receives one content object's content (a symlink's
// target is taken from its header), then Done or Abort.
type ContentWriter struct {
	p    *Planner
	h    *ostree.FileHeader
	size int64
	buf  []byte            // a small object's content
	hash *deltapart.Hasher // a large object's own part
	part *ostree.DeltaPart // its framing
	head []byte            // and the head and tail around it
	tail []byte            //
	n    int64             // bytes written
	skip bool              // a fallback: content not needed
}

// Content starts a content object of size bytes.
func (p *Planner) Content(h *ostree.FileHeader, size int64) *ContentWriter {
	w := &ContentWriter{p: p, h: h, size: size}
	switch {
	case h.IsSymlink():
		w.size = 0
	case size > p.opts.MaxInline:
		w.skip = true
	case size > p.opts.PartSize/4:
		w.part = &ostree.DeltaPart{
			Modes:  []ostree.DeltaMode{{UID: h.UID, GID: h.GID, Mode: h.Mode}},
			Xattrs: []ostree.Xattrs{h.Xattrs},
			Ops:    spliceOp(nil, 0, 0, uint64(size), 0),
		}
		w.head, w.tail = w.part.Frame(int(size))
		w.hash = deltapart.NewHasher()
		w.hash.Write(w.head)
	default:
		if b, ok := p.bufs.Get().(*[]byte); ok && int64(cap(*b)) >= size {
			w.buf = (*b)[:0]
		} else {
			w.buf = make([]byte, 0, max(size, 64<<10))
		}
	}
	return w
}

// Write adds content bytes.
func (w *ContentWriter) Write(b []byte) (int, error) {
	w.n += int64(len(b))
	switch {
	case w.n > w.size && !w.skip:
		return 0, fmt.Errorf("static delta: content object of %d bytes: more data than that", w.size)
	case w.hash != nil:
		w.hash.Write(b)
	case w.buf != nil:
		w.buf = append(w.buf, b...)
	}
	return len(b), nil
}

// Done adds the object, now verified to be c, to the plan; an object
// already planned is left out.
func (w *ContentWriter) Done(c ostree.Checksum) error {
	if !w.skip && w.n != w.size {
		return fmt.Errorf("static delta: content object %s: got %d bytes of %d", c, w.n, w.size)
	}
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil || p.seen[c] {
		return p.err
	}
	p.seen[c] = true
	obj := ostree.DeltaObject{Type: ostree.ObjFile, Checksum: c}
	switch {
	case w.skip:
		p.fallbacks = append(p.fallbacks, ostree.DeltaFallback{Object: obj, Size: uint64(w.size), USize: uint64(w.size)})
	case w.hash != nil:
		w.hash.Write(w.tail)
		size, sum := w.hash.Sum()
		p.parts = append(p.parts, plannedPart{
			header: ostree.DeltaPartHeader{Checksum: sum, Size: uint64(size), USize: uint64(w.size), Objects: []ostree.DeltaObject{obj}},
			recipe: &deltapart.Recipe{Head: w.head, Tail: w.tail, Size: size, Checksum: sum,
				Sources: []deltapart.Source{{Type: ostree.ObjFile, Checksum: c, Size: w.size}}},
		})
	default:
		data := w.buf
		if w.h.IsSymlink() {
			data = []byte(w.h.SymlinkTarget)
		}
		if p.cur != nil && len(p.cur.objects) > 0 && int64(len(p.cur.payload)+len(data)) > p.opts.PartSize {
			p.parts = append(p.parts, p.cur.plan())
			p.spare = p.cur.payload[:0]
			p.cur = nil
		}
		if p.cur == nil {
			p.cur = newPartBuilder()
			p.cur.payload = p.spare
			if p.cur.payload == nil {
				p.cur.payload = make([]byte, 0, p.opts.PartSize)
			}
			p.spare = nil
		}
		p.cur.addContent(c, w.h, data)
		if w.buf != nil {
			p.bufs.Put(&w.buf)
		}
	}
	return nil
}

// plan hashes the part and describes it by a recipe.
func (p *partBuilder) plan() plannedPart {
	head, tail := (&ostree.DeltaPart{Modes: p.modes, Xattrs: p.xattrs, Ops: p.ops}).Frame(len(p.payload))
	h := deltapart.NewHasher()
	h.Write(head)
	h.Write(p.payload)
	h.Write(tail)
	size, sum := h.Sum()
	r := &deltapart.Recipe{Head: head, Tail: tail, Size: size, Checksum: sum, Sources: make([]deltapart.Source, len(p.objects))}
	for i, o := range p.objects {
		r.Sources[i] = deltapart.Source{Type: o.Type, Checksum: o.Checksum, Size: p.sizes[i]}
	}
	return plannedPart{header: ostree.DeltaPartHeader{Checksum: sum, Size: uint64(size), USize: p.usize, Objects: p.objects}, recipe: r}
}

// Finish completes the delta to the commit whose serialised object is
// commit (detached: its detached metadata or nil), and writes the
// superblock, the delta index and each part's recipe (as the part's name
// plus deltapart.RecipeSuffix) to sink. meta returns a dirtree or dirmeta
// object, or nil. It fails, naming the object, if an object the commit
// reaches was never planned. The metadata parts come first: the walk of a
// client before 2023.7 (see the package documentation) finds them sooner.
func (p *Planner) Finish(sink Sink, to ostree.Checksum, commit, detached []byte, meta func(ostree.ObjectType, ostree.Checksum) []byte) (*Delta, error) {
	if got := ostree.SumBytes(commit); got != to {
		return nil, fmt.Errorf("static delta: commit object hashes to %s, not %s", got, to)
	}
	c, err := ostree.ParseCommit(commit)
	if err != nil {
		return nil, fmt.Errorf("static delta to %s: %w", to, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return nil, p.err
	}
	p.err = errors.New("static delta: planner is finished")
	lookup := func(k objectKey) []byte { return meta(k.t, k.c) }
	order, err := metadataOrder(c, lookup, func(c ostree.Checksum) bool { return p.seen[c] })
	if err != nil {
		return nil, err
	}
	var parts []plannedPart
	var mp *partBuilder
	for _, k := range order {
		data := lookup(k)
		if mp != nil && int64(len(mp.payload)+len(data)) > p.opts.PartSize {
			parts = append(parts, mp.plan())
			mp = nil
		}
		if mp == nil {
			mp = newPartBuilder()
		}
		mp.addMetadata(k.t, k.c, data)
	}
	if mp != nil {
		parts = append(parts, mp.plan())
	}
	if p.cur != nil && len(p.cur.objects) > 0 {
		p.parts = append(p.parts, p.cur.plan())
		p.cur = nil
	}
	parts = append(parts, p.parts...)

	d := &Delta{To: to, Fallbacks: slices.Clone(p.fallbacks)}
	for _, pp := range parts {
		d.Parts = append(d.Parts, pp.header)
	}
	sb := superblock(to, c, commit, detached, d)
	if len(sb) > maxSuperblock {
		return nil, fmt.Errorf("static delta: superblock of %d bytes is over the %d clients accept: use a larger part size", len(sb), maxSuperblock)
	}
	d.Superblock = sha256Sum(sb)
	for i, pp := range parts {
		r := pp.recipe.Marshal()
		if err := sink.WriteFile(ostree.ScratchDeltaPartPath(to, i)+deltapart.RecipeSuffix, int64(len(r)), bytes.NewReader(r)); err != nil {
			return nil, fmt.Errorf("static delta part %d recipe: %w", i, err)
		}
	}
	if err := sink.WriteFile(ostree.ScratchDeltaSuperblockPath(to), int64(len(sb)), bytes.NewReader(sb)); err != nil {
		return nil, fmt.Errorf("static delta superblock: %w", err)
	}
	index := ostree.DeltaIndex(DeltaList(d))
	if err := sink.WriteFile(ostree.DeltaIndexPath(to), int64(len(index)), bytes.NewReader(index)); err != nil {
		return nil, fmt.Errorf("static delta index: %w", err)
	}
	return d, nil
}

func sha256Sum(b []byte) ostree.Checksum { return ostree.Checksum(sha256.Sum256(b)) }
