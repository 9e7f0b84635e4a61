package ostree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
)

// Xattr is one extended attribute. OSTree stores the name as a bytestring
// that includes its NUL terminator; Name here excludes it.
type Xattr struct {
	Name  string
	Value []byte
}

// Xattrs is an a(ayay) list. OSTree requires it sorted by name.
type Xattrs []Xattr

// Sorted returns a copy sorted by name, as OSTree canonicalises it.
func (x Xattrs) Sorted() Xattrs {
	s := append(Xattrs(nil), x...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s
}

// Get returns the value of the named attribute.
func (x Xattrs) Get(name string) ([]byte, bool) {
	for _, a := range x {
		if a.Name == name {
			return a.Value, true
		}
	}
	return nil, false
}

// Marshal serialises the list in the order given.
func (x Xattrs) Marshal() []byte {
	elems := make([][]byte, len(x))
	for i, a := range x {
		elems[i] = encodeTuple(
			member{data: encodeString(a.Name), align: 1},
			member{data: a.Value, align: 1},
		)
	}
	return encodeArray(1, elems)
}

// ParseXattrs decodes a serialised a(ayay).
func ParseXattrs(b []byte) (Xattrs, error) {
	elems, err := decodeArray(b, 1)
	if err != nil {
		return nil, fmt.Errorf("xattrs: %w", err)
	}
	out := make(Xattrs, 0, len(elems))
	for _, e := range elems {
		m, err := decodeTuple(e, fVar1, fVar1)
		if err != nil {
			return nil, fmt.Errorf("xattr: %w", err)
		}
		name, err := decodeString(m[0])
		if err != nil {
			return nil, fmt.Errorf("xattr name: %w", err)
		}
		out = append(out, Xattr{Name: name, Value: bytes.Clone(m[1])})
	}
	return out, nil
}

// DirMeta is a directory's ownership, mode and xattrs: (uuua(ayay)).
type DirMeta struct {
	UID, GID, Mode uint32
	Xattrs         Xattrs
}

func (d *DirMeta) Marshal() []byte {
	return encodeTuple(
		member{data: encodeU32(d.UID), align: 4, fixed: true},
		member{data: encodeU32(d.GID), align: 4, fixed: true},
		member{data: encodeU32(d.Mode), align: 4, fixed: true},
		member{data: d.Xattrs.Marshal(), align: 1},
	)
}

func ParseDirMeta(b []byte) (*DirMeta, error) {
	m, err := decodeTuple(b, fU32, fU32, fU32, fVar1)
	if err != nil {
		return nil, fmt.Errorf("dirmeta: %w", err)
	}
	x, err := ParseXattrs(m[3])
	if err != nil {
		return nil, fmt.Errorf("dirmeta: %w", err)
	}
	return &DirMeta{
		UID:    binary.BigEndian.Uint32(m[0]),
		GID:    binary.BigEndian.Uint32(m[1]),
		Mode:   binary.BigEndian.Uint32(m[2]),
		Xattrs: x,
	}, nil
}

// TreeFile is a file entry of a dirtree.
type TreeFile struct {
	Name     string
	Checksum Checksum
}

// TreeDir is a subdirectory entry of a dirtree.
type TreeDir struct {
	Name string
	Tree Checksum
	Meta Checksum
}

// DirTree lists a directory's files and subdirectories, each sorted by name:
// (a(say)a(sayay)).
type DirTree struct {
	Files []TreeFile
	Dirs  []TreeDir
}

func (d *DirTree) Marshal() []byte {
	files := make([][]byte, len(d.Files))
	for i, f := range d.Files {
		files[i] = encodeTuple(
			member{data: encodeString(f.Name), align: 1},
			member{data: f.Checksum[:], align: 1},
		)
	}
	dirs := make([][]byte, len(d.Dirs))
	for i, s := range d.Dirs {
		dirs[i] = encodeTuple(
			member{data: encodeString(s.Name), align: 1},
			member{data: s.Tree[:], align: 1},
			member{data: s.Meta[:], align: 1},
		)
	}
	return encodeTuple(
		member{data: encodeArray(1, files), align: 1},
		member{data: encodeArray(1, dirs), align: 1},
	)
}

func ParseDirTree(b []byte) (*DirTree, error) {
	m, err := decodeTuple(b, fVar1, fVar1)
	if err != nil {
		return nil, fmt.Errorf("dirtree: %w", err)
	}
	files, err := decodeArray(m[0], 1)
	if err != nil {
		return nil, fmt.Errorf("dirtree files: %w", err)
	}
	dirs, err := decodeArray(m[1], 1)
	if err != nil {
		return nil, fmt.Errorf("dirtree dirs: %w", err)
	}
	t := &DirTree{Files: make([]TreeFile, 0, len(files)), Dirs: make([]TreeDir, 0, len(dirs))}
	for _, e := range files {
		f, err := decodeTuple(e, fVar1, fVar1)
		if err != nil {
			return nil, fmt.Errorf("dirtree file: %w", err)
		}
		var tf TreeFile
		if tf.Name, err = decodeString(f[0]); err != nil {
			return nil, fmt.Errorf("dirtree file name: %w", err)
		}
		if tf.Checksum, err = checksumFromBytes(f[1]); err != nil {
			return nil, fmt.Errorf("dirtree file %q: %w", tf.Name, err)
		}
		t.Files = append(t.Files, tf)
	}
	for _, e := range dirs {
		f, err := decodeTuple(e, fVar1, fVar1, fVar1)
		if err != nil {
			return nil, fmt.Errorf("dirtree dir: %w", err)
		}
		var td TreeDir
		if td.Name, err = decodeString(f[0]); err != nil {
			return nil, fmt.Errorf("dirtree dir name: %w", err)
		}
		if td.Tree, err = checksumFromBytes(f[1]); err != nil {
			return nil, fmt.Errorf("dirtree dir %q: %w", td.Name, err)
		}
		if td.Meta, err = checksumFromBytes(f[2]); err != nil {
			return nil, fmt.Errorf("dirtree dir %q: %w", td.Name, err)
		}
		t.Dirs = append(t.Dirs, td)
	}
	return t, nil
}

// Variant is a serialised GVariant value with its type string, as stored in
// commit metadata. Values other than strings and booleans are kept opaque.
type Variant struct {
	Type string
	Data []byte
}

// StringVariant returns a variant of type "s".
func StringVariant(s string) Variant { return Variant{Type: "s", Data: encodeString(s)} }

// BoolVariant returns a variant of type "b".
func BoolVariant(v bool) Variant {
	if v {
		return Variant{Type: "b", Data: []byte{1}}
	}
	return Variant{Type: "b", Data: []byte{0}}
}

// StringsVariant returns a variant of type "as".
func StringsVariant(ss []string) Variant {
	elems := make([][]byte, len(ss))
	for i, s := range ss {
		elems[i] = encodeString(s)
	}
	return Variant{Type: "as", Data: encodeArray(1, elems)}
}

// Strings returns the value of a string-array variant.
func (v Variant) Strings() ([]string, bool) {
	if v.Type != "as" {
		return nil, false
	}
	elems, err := decodeArray(v.Data, 1)
	if err != nil {
		return nil, false
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		if out[i], err = decodeString(e); err != nil {
			return nil, false
		}
	}
	return out, true
}

// String returns the value of a string variant.
func (v Variant) String() (string, bool) {
	if v.Type != "s" {
		return "", false
	}
	s, err := decodeString(v.Data)
	return s, err == nil
}

// MetaEntry is one key of an a{sv} dictionary.
type MetaEntry struct {
	Key   string
	Value Variant
}

// Metadata is an a{sv} dictionary, sorted by key as GLib's builder leaves
// it in OSTree objects.
type Metadata []MetaEntry

// Get returns the value of key.
func (m Metadata) Get(key string) (Variant, bool) {
	for _, e := range m {
		if e.Key == key {
			return e.Value, true
		}
	}
	return Variant{}, false
}

func (m Metadata) Marshal() []byte {
	elems := make([][]byte, len(m))
	for i, e := range m {
		v := append(bytes.Clone(e.Value.Data), 0)
		v = append(v, e.Value.Type...)
		elems[i] = encodeTuple(
			member{data: encodeString(e.Key), align: 1},
			member{data: v, align: 8},
		)
	}
	return encodeArray(8, elems)
}

func ParseMetadata(b []byte) (Metadata, error) {
	elems, err := decodeArray(b, 8)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	out := make(Metadata, 0, len(elems))
	for _, e := range elems {
		m, err := decodeTuple(e, fVar1, fVar8)
		if err != nil {
			return nil, fmt.Errorf("metadata entry: %w", err)
		}
		key, err := decodeString(m[0])
		if err != nil {
			return nil, fmt.Errorf("metadata key: %w", err)
		}
		sep := bytes.LastIndexByte(m[1], 0)
		if sep < 0 {
			return nil, fmt.Errorf("metadata %q: %w", key, errBad)
		}
		out = append(out, MetaEntry{Key: key, Value: Variant{
			Type: string(m[1][sep+1:]),
			Data: bytes.Clone(m[1][:sep]),
		}})
	}
	return out, nil
}

// RelatedObject is an entry of a commit's related-objects list.
type RelatedObject struct {
	Name     string
	Checksum Checksum
}

// MetaRefBinding is the commit metadata key listing the refs a commit may
// be pulled as (`ostree commit -b` writes it by default); libostree refuses
// a pull through any other ref unless told not to check.
const MetaRefBinding = "ostree.ref-binding"

// RefBindings returns the refs the commit is bound to; nil if it is not
// bound, so any ref may point at it.
func (c *Commit) RefBindings() ([]string, error) {
	v, ok := c.Metadata.Get(MetaRefBinding)
	if !ok {
		return nil, nil
	}
	refs, ok := v.Strings()
	if !ok {
		return nil, fmt.Errorf("commit metadata %s: value of type %q, want a string array", MetaRefBinding, v.Type)
	}
	return refs, nil
}

// Commit is (a{sv}aya(say)sstayay).
type Commit struct {
	Metadata  Metadata
	Parent    Checksum // zero if none
	Related   []RelatedObject
	Subject   string
	Body      string
	Timestamp uint64 // seconds since the epoch, UTC
	RootTree  Checksum
	RootMeta  Checksum
}

func (c *Commit) Marshal() []byte {
	var parent []byte
	if !c.Parent.IsZero() {
		parent = c.Parent[:]
	}
	related := make([][]byte, len(c.Related))
	for i, r := range c.Related {
		related[i] = encodeTuple(
			member{data: encodeString(r.Name), align: 1},
			member{data: r.Checksum[:], align: 1},
		)
	}
	return encodeTuple(
		member{data: c.Metadata.Marshal(), align: 8},
		member{data: parent, align: 1},
		member{data: encodeArray(1, related), align: 1},
		member{data: encodeString(c.Subject), align: 1},
		member{data: encodeString(c.Body), align: 1},
		member{data: encodeU64(c.Timestamp), align: 8, fixed: true},
		member{data: c.RootTree[:], align: 1},
		member{data: c.RootMeta[:], align: 1},
	)
}

func ParseCommit(b []byte) (*Commit, error) {
	m, err := decodeTuple(b, fVar8, fVar1, fVar1, fVar1, fVar1, fU64, fVar1, fVar1)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	c := &Commit{Timestamp: binary.BigEndian.Uint64(m[5])}
	if c.Metadata, err = ParseMetadata(m[0]); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if len(m[1]) > 0 {
		if c.Parent, err = checksumFromBytes(m[1]); err != nil {
			return nil, fmt.Errorf("commit parent: %w", err)
		}
	}
	related, err := decodeArray(m[2], 1)
	if err != nil {
		return nil, fmt.Errorf("commit related: %w", err)
	}
	for _, e := range related {
		r, err := decodeTuple(e, fVar1, fVar1)
		if err != nil {
			return nil, fmt.Errorf("commit related: %w", err)
		}
		var ro RelatedObject
		if ro.Name, err = decodeString(r[0]); err != nil {
			return nil, fmt.Errorf("commit related: %w", err)
		}
		if ro.Checksum, err = checksumFromBytes(r[1]); err != nil {
			return nil, fmt.Errorf("commit related: %w", err)
		}
		c.Related = append(c.Related, ro)
	}
	if c.Subject, err = decodeString(m[3]); err != nil {
		return nil, fmt.Errorf("commit subject: %w", err)
	}
	if c.Body, err = decodeString(m[4]); err != nil {
		return nil, fmt.Errorf("commit body: %w", err)
	}
	if c.RootTree, err = checksumFromBytes(m[6]); err != nil {
		return nil, fmt.Errorf("commit root tree: %w", err)
	}
	if c.RootMeta, err = checksumFromBytes(m[7]); err != nil {
		return nil, fmt.Errorf("commit root meta: %w", err)
	}
	return c, nil
}
