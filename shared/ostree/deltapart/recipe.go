// Package deltapart builds the parts of a static delta whose payload is
// stored, not compressed, and rebuilds them from a recipe: the part's own
// bytes around the objects, and the objects it carries, named. A part is
// then a few hundred bytes in the image until a client asks for it, when
// the archive server assembles it from the loose objects it serves anyway
// (see Assemble); the superblock's checksum of the part holds because the
// same recipe and objects always give the same bytes. It is the standard
// library and package ostree only, so the archive server can link it.
package deltapart

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// RecipeSuffix names a part's recipe: deltas/AB/CDEF.../N.recipe beside
// where part N would be.
const RecipeSuffix = ".recipe"

// Source is one object whose bytes a part carries: a metadata object as
// it is stored, or a content object's content (a symlink's target).
type Source struct {
	Type     ostree.ObjectType // ObjFile, ObjDirTree or ObjDirMeta
	Checksum ostree.Checksum
	Size     int64
}

// Recipe is how to rebuild one part file: Head, the Sources' bytes in
// order, Tail, as a stored .xz payload. Size and Checksum are the part
// file's, as the superblock lists them.
type Recipe struct {
	Head, Tail []byte
	Sources    []Source
	Size       int64
	Checksum   [32]byte
}

var recipeMagic = []byte("OCNEDPR\x01")

// typeCodes are how a recipe spells object types: ObjectType's values are
// this module's, not a file format's.
var typeCodes = map[ostree.ObjectType]byte{ostree.ObjFile: 'f', ostree.ObjDirTree: 't', ostree.ObjDirMeta: 'm'}

// ErrBadRecipe reports a recipe that cannot be decoded.
var ErrBadRecipe = errors.New("bad delta part recipe")

// Marshal encodes the recipe.
func (r *Recipe) Marshal() []byte {
	b := append([]byte(nil), recipeMagic...)
	b = append(b, r.Checksum[:]...)
	b = binary.AppendUvarint(b, uint64(r.Size))
	b = binary.AppendUvarint(b, uint64(len(r.Head)))
	b = append(b, r.Head...)
	b = binary.AppendUvarint(b, uint64(len(r.Tail)))
	b = append(b, r.Tail...)
	b = binary.AppendUvarint(b, uint64(len(r.Sources)))
	for _, s := range r.Sources {
		b = append(b, typeCodes[s.Type])
		b = append(b, s.Checksum[:]...)
		b = binary.AppendUvarint(b, uint64(s.Size))
	}
	return b
}

// ParseRecipe decodes a recipe.
func ParseRecipe(b []byte) (*Recipe, error) {
	d := decoder{b: b}
	if !bytes.Equal(d.bytes(len(recipeMagic)), recipeMagic) {
		return nil, fmt.Errorf("%w: not a recipe, or one of another version", ErrBadRecipe)
	}
	r := &Recipe{}
	copy(r.Checksum[:], d.bytes(32))
	r.Size = int64(d.uvarint())
	r.Head = d.bytes(int(d.uvarint()))
	r.Tail = d.bytes(int(d.uvarint()))
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b))/34 {
		d.err = io.ErrUnexpectedEOF
	}
	r.Sources = make([]Source, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var s Source
		t := d.bytes(1)
		copy(s.Checksum[:], d.bytes(32))
		s.Size = int64(d.uvarint())
		if d.err == nil {
			for typ, code := range typeCodes {
				if code == t[0] {
					s.Type = typ
				}
			}
			if s.Type == 0 {
				return nil, fmt.Errorf("%w: object type %q", ErrBadRecipe, t[0])
			}
		}
		r.Sources = append(r.Sources, s)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the end", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRecipe, d.err)
	}
	return r, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = io.ErrUnexpectedEOF
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = io.ErrUnexpectedEOF
		return 0
	}
	d.b = d.b[n:]
	return v
}
