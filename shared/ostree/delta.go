package ostree

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file holds the static delta formats as libostree reads them
// (src/libostree/ostree-repo-static-delta-private.h upstream); the
// staticdelta package decides what goes into them.
//
// Integers in a delta follow two conventions: the superblock timestamp and
// the (uuu) modes are big-endian, like every OSTree object, while a part
// header's version, size and usize and a fallback's sizes are in the byte
// order the superblock metadata key "ostree.endianness" names ('l' or 'B'),
// a historical accident. We always write little-endian and say so, as
// libostree itself does on x86-64 and aarch64.

// MetaDeltaEndianness is the superblock metadata key naming the byte order
// of part headers and fallback entries.
const MetaDeltaEndianness = "ostree.endianness"

// MetaStaticDeltas is the summary (and delta index) key listing the
// deltas a repository serves: a{sv}, delta name -> 32-byte superblock sha256.
const MetaStaticDeltas = "ostree.static-deltas"

// deltaObjType is libostree's numbering of object types (OstreeObjectType),
// used in the object lists of a delta.
var deltaObjType = map[ObjectType]byte{ObjFile: 1, ObjFileZ: 1, ObjDirTree: 2, ObjDirMeta: 3, ObjCommit: 4}

func objTypeFromDelta(b byte) (ObjectType, bool) {
	switch b {
	case 1:
		return ObjFile, true
	case 2:
		return ObjDirTree, true
	case 3:
		return ObjDirMeta, true
	case 4:
		return ObjCommit, true
	}
	return 0, false
}

// b64Checksum is libostree's "modified base64" of a checksum: standard
// base64 without the padding, '/' written as '_', so that it is a file name.
func b64Checksum(c Checksum) string {
	s := strings.TrimRight(base64.StdEncoding.EncodeToString(c[:]), "=")
	return strings.ReplaceAll(s, "/", "_")
}

// ScratchDeltaDir is the directory of the from-scratch delta to commit to,
// relative to the repository root: deltas/AB/CDEF... where ABCDEF... is
// the modified base64 of the checksum.
func ScratchDeltaDir(to Checksum) string {
	b := b64Checksum(to)
	return "deltas/" + b[:2] + "/" + b[2:]
}

// ScratchDeltaSuperblockPath is where a client fetches the delta's superblock.
func ScratchDeltaSuperblockPath(to Checksum) string { return ScratchDeltaDir(to) + "/superblock" }

// ScratchDeltaPartPath is where a client fetches part i of the delta.
func ScratchDeltaPartPath(to Checksum, i int) string {
	return ScratchDeltaDir(to) + "/" + strconv.Itoa(i)
}

// ScratchDeltaCommitMetaKey is the superblock metadata key that carries the
// commit's detached metadata (signatures), if it has any.
func ScratchDeltaCommitMetaKey(to Checksum) string { return ScratchDeltaDir(to) + "/commitmeta" }

// DeltaIndexPath is the delta index of commit to (the deltas that lead to
// it), which clients fetch instead of the summary when the summary or the
// repository config sets indexed-deltas.
func DeltaIndexPath(to Checksum) string {
	b := b64Checksum(to)
	return "delta-indexes/" + b[:2] + "/" + b[2:] + ".index"
}

// DeltaObject names an object a delta part writes.
type DeltaObject struct {
	Type     ObjectType // ObjFile (a content object), ObjDirTree or ObjDirMeta
	Checksum Checksum
}

// DeltaPartHeader describes a part in the superblock: (uayttay) version,
// sha256 of the part file, size of the part file, total size of the
// objects it writes, and those objects (1 type byte + 32 checksum bytes
// each, in the order the part's operations write them).
type DeltaPartHeader struct {
	Checksum Checksum
	Size     uint64
	USize    uint64
	Objects  []DeltaObject
}

// DeltaFallback is an object the client fetches on its own rather than
// from a part: (yaytt) type, checksum, compressed and uncompressed size.
type DeltaFallback struct {
	Object      DeltaObject
	Size, USize uint64
}

// DeltaSuperblock is the "superblock" file of a delta:
// (a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt)) metadata,
// timestamp, from (empty for a from-scratch delta), to, the to commit
// itself, parent deltas (unused: empty), parts, fallbacks.
type DeltaSuperblock struct {
	Metadata  Metadata
	Timestamp uint64
	To        Checksum
	Commit    []byte
	Parts     []DeltaPartHeader
	Fallbacks []DeltaFallback
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func deltaObjects(objs []DeltaObject) []byte {
	b := make([]byte, 0, len(objs)*33)
	for _, o := range objs {
		b = append(b, deltaObjType[o.Type])
		b = append(b, o.Checksum[:]...)
	}
	return b
}

// Marshal serialises the superblock. Its Metadata must say the byte order
// is little-endian (MetaDeltaEndianness 'l'), which is what is written.
func (s *DeltaSuperblock) Marshal() []byte {
	parts := make([][]byte, len(s.Parts))
	for i, p := range s.Parts {
		parts[i] = encodeTuple(
			member{data: binary.LittleEndian.AppendUint32(nil, 0), align: 4, fixed: true}, // part format version 0
			member{data: p.Checksum[:], align: 1},
			member{data: le64(p.Size), align: 8, fixed: true},
			member{data: le64(p.USize), align: 8, fixed: true},
			member{data: deltaObjects(p.Objects), align: 1},
		)
	}
	fallbacks := make([][]byte, len(s.Fallbacks))
	for i, f := range s.Fallbacks {
		fallbacks[i] = encodeTuple(
			member{data: []byte{deltaObjType[f.Object.Type]}, align: 1, fixed: true},
			member{data: f.Object.Checksum[:], align: 1},
			member{data: le64(f.Size), align: 8, fixed: true},
			member{data: le64(f.USize), align: 8, fixed: true},
		)
	}
	return encodeTuple(
		member{data: s.Metadata.Marshal(), align: 8},
		member{data: encodeU64(s.Timestamp), align: 8, fixed: true},
		member{data: nil, align: 1}, // from: none, a from-scratch delta
		member{data: s.To[:], align: 1},
		member{data: s.Commit, align: 8},
		member{data: nil, align: 1}, // no parent deltas
		member{data: encodeArray(8, parts), align: 8},
		member{data: encodeArray(8, fallbacks), align: 8},
	)
}

// ParseDeltaSuperblock decodes a superblock in either byte order; a
// delta from some other commit (a non-empty from) is refused.
func ParseDeltaSuperblock(b []byte) (*DeltaSuperblock, error) {
	m, err := decodeTuple(b, fVar8, fU64, fVar1, fVar1, fVar8, fVar1, fVar8, fVar8)
	if err != nil {
		return nil, fmt.Errorf("delta superblock: %w", err)
	}
	s := &DeltaSuperblock{Timestamp: binary.BigEndian.Uint64(m[1]), Commit: m[4]}
	if s.Metadata, err = ParseMetadata(m[0]); err != nil {
		return nil, fmt.Errorf("delta superblock: %w", err)
	}
	if len(m[2]) != 0 {
		return nil, fmt.Errorf("delta superblock: not a from-scratch delta")
	}
	if s.To, err = checksumFromBytes(m[3]); err != nil {
		return nil, fmt.Errorf("delta superblock to: %w", err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if v, ok := s.Metadata.Get(MetaDeltaEndianness); ok && v.Type == "y" && len(v.Data) == 1 && v.Data[0] == 'B' {
		order = binary.BigEndian
	}
	parts, err := decodeArray(m[6], 8)
	if err != nil {
		return nil, fmt.Errorf("delta superblock parts: %w", err)
	}
	for i, e := range parts {
		f, err := decodeTuple(e, fU32, fVar1, fU64, fU64, fVar1)
		if err != nil {
			return nil, fmt.Errorf("delta part %d header: %w", i, err)
		}
		p := DeltaPartHeader{Size: order.Uint64(f[2]), USize: order.Uint64(f[3])}
		if v := order.Uint32(f[0]); v != 0 {
			return nil, fmt.Errorf("delta part %d: format version %d, want 0", i, v)
		}
		if p.Checksum, err = checksumFromBytes(f[1]); err != nil {
			return nil, fmt.Errorf("delta part %d checksum: %w", i, err)
		}
		if p.Objects, err = ParseDeltaObjects(f[4]); err != nil {
			return nil, fmt.Errorf("delta part %d: %w", i, err)
		}
		s.Parts = append(s.Parts, p)
	}
	fallbacks, err := decodeArray(m[7], 8)
	if err != nil {
		return nil, fmt.Errorf("delta superblock fallbacks: %w", err)
	}
	for i, e := range fallbacks {
		f, err := decodeTuple(e, field{align: 1, size: 1}, fVar1, fU64, fU64)
		if err != nil {
			return nil, fmt.Errorf("delta fallback %d: %w", i, err)
		}
		objs, err := ParseDeltaObjects(append([]byte{f[0][0]}, f[1]...))
		if err != nil || len(objs) != 1 {
			return nil, fmt.Errorf("delta fallback %d: %w", i, errBad)
		}
		s.Fallbacks = append(s.Fallbacks, DeltaFallback{Object: objs[0], Size: order.Uint64(f[2]), USize: order.Uint64(f[3])})
	}
	return s, nil
}

// ParseDeltaObjects decodes a part header's object list.
func ParseDeltaObjects(b []byte) ([]DeltaObject, error) {
	if len(b)%33 != 0 {
		return nil, fmt.Errorf("object list of %d bytes, not a multiple of 33: %w", len(b), errBad)
	}
	objs := make([]DeltaObject, 0, len(b)/33)
	for ; len(b) > 0; b = b[33:] {
		t, ok := objTypeFromDelta(b[0])
		if !ok {
			return nil, fmt.Errorf("object type %d: %w", b[0], errBad)
		}
		var o DeltaObject
		o.Type = t
		copy(o.Checksum[:], b[1:33])
		objs = append(objs, o)
	}
	return objs, nil
}

// Delta part compression, the first byte of a part file.
const (
	DeltaPartUncompressed = 0
	DeltaPartXZ           = 'x'
)

// Opcodes of a delta part's operations.
const (
	// DeltaOpOpenSpliceAndClose writes one whole object from the payload:
	// for metadata, varints length and offset; for content, varints mode
	// index, xattrs index, size and offset (a symlink's target is its
	// content here).
	DeltaOpOpenSpliceAndClose = 'S'
)

// DeltaMode is an entry of a part's mode table: (uuu) uid, gid, mode.
type DeltaMode struct{ UID, GID, Mode uint32 }

// DeltaPart is the payload of a part file, after the compression byte:
// (a(uuu)aa(ayay)ayay) modes, xattr sets, raw data, operations.
type DeltaPart struct {
	Modes   []DeltaMode
	Xattrs  []Xattrs
	Payload []byte
	Ops     []byte
}

// Marshal serialises the part payload.
func (p *DeltaPart) Marshal() []byte {
	head, tail := p.Frame(len(p.Payload))
	return slices.Concat(head, p.Payload, tail)
}

// Frame returns what Marshal writes before and after a payload of
// payloadLen bytes (p.Payload is ignored): the modes and xattr sets, then
// the operations and the tuple's framing offsets. A part whose payload is
// not held in memory, one object streamed through or one rebuilt from the
// loose objects, is head, the payload, tail.
func (p *DeltaPart) Frame(payloadLen int) (head, tail []byte) {
	head = make([]byte, 0, 12*len(p.Modes))
	for _, m := range p.Modes {
		head = binary.BigEndian.AppendUint32(head, m.UID)
		head = binary.BigEndian.AppendUint32(head, m.GID)
		head = binary.BigEndian.AppendUint32(head, m.Mode)
	}
	modesEnd := len(head)
	xattrs := make([][]byte, len(p.Xattrs))
	for i, x := range p.Xattrs {
		xattrs[i] = x.Marshal()
	}
	// Every member but the modes has alignment 1, so no padding: the
	// layout encodeTuple gives, with the payload left out.
	head = append(head, encodeArray(1, xattrs)...)
	payloadEnd := len(head) + payloadLen
	body := payloadEnd + len(p.Ops)
	tail = slices.Clone(p.Ops)
	k := offsetSize(body, 3)
	for _, o := range []int{payloadEnd, len(head), modesEnd} { // last member first
		for i := 0; i < k; i++ {
			tail = append(tail, byte(o>>(8*i)))
		}
	}
	return head, tail
}

// ParseDeltaPart decodes an uncompressed part payload.
func ParseDeltaPart(b []byte) (*DeltaPart, error) {
	m, err := decodeTuple(b, field{align: 4}, fVar1, fVar1, fVar1)
	if err != nil {
		return nil, fmt.Errorf("delta part: %w", err)
	}
	if len(m[0])%12 != 0 {
		return nil, fmt.Errorf("delta part modes: %w", errBad)
	}
	p := &DeltaPart{Payload: m[2], Ops: m[3]}
	for mb := m[0]; len(mb) > 0; mb = mb[12:] {
		p.Modes = append(p.Modes, DeltaMode{binary.BigEndian.Uint32(mb), binary.BigEndian.Uint32(mb[4:]), binary.BigEndian.Uint32(mb[8:])})
	}
	xs, err := decodeArray(m[1], 1)
	if err != nil {
		return nil, fmt.Errorf("delta part xattrs: %w", err)
	}
	for _, x := range xs {
		px, err := ParseXattrs(x)
		if err != nil {
			return nil, fmt.Errorf("delta part: %w", err)
		}
		p.Xattrs = append(p.Xattrs, px)
	}
	return p, nil
}

// DeltaIndex is a delta index file: a{sv} whose MetaStaticDeltas entry
// lists the deltas to one commit.
func DeltaIndex(deltas Metadata) []byte {
	return Metadata{{Key: MetaStaticDeltas, Value: Variant{Type: "a{sv}", Data: deltas.Marshal()}}}.Marshal()
}

// BytesVariant returns a variant of type "ay".
func BytesVariant(b []byte) Variant { return Variant{Type: "ay", Data: b} }

// ByteVariant returns a variant of type "y".
func ByteVariant(b byte) Variant { return Variant{Type: "y", Data: []byte{b}} }

// BigEndianU64Variant returns a variant of type "t" holding v big-endian,
// as OSTree stores timestamps inside GVariant metadata.
func BigEndianU64Variant(v uint64) Variant { return Variant{Type: "t", Data: encodeU64(v)} }

// SummaryRef is an entry of a summary's ref list: the ref, the size of
// the commit object, its checksum, and per-ref metadata.
type SummaryRef struct {
	Name       string
	CommitSize uint64
	Commit     Checksum
	Metadata   Metadata
}

// Summary is a repository's "summary" file: (a(s(taya{sv}))a{sv}) refs
// sorted by name, and repository metadata. Clients that find one trust its
// refs over refs/heads and its MetaStaticDeltas to choose a delta.
type Summary struct {
	Refs     []SummaryRef
	Metadata Metadata
}

// Marshal serialises the summary. The commit size is a plain GVariant "t",
// which is little-endian on every machine OSTree clients run on; the
// timestamps inside the metadata are big-endian by OSTree convention.
func (s *Summary) Marshal() []byte {
	refs := make([][]byte, len(s.Refs))
	for i, r := range s.Refs {
		refs[i] = encodeTuple(
			member{data: encodeString(r.Name), align: 1},
			member{data: encodeTuple(
				member{data: le64(r.CommitSize), align: 8, fixed: true},
				member{data: r.Commit[:], align: 1},
				member{data: r.Metadata.Marshal(), align: 8},
			), align: 8},
		)
	}
	return encodeTuple(
		member{data: encodeArray(8, refs), align: 8},
		member{data: s.Metadata.Marshal(), align: 8},
	)
}
