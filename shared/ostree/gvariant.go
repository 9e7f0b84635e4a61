package ostree

import (
	"encoding/binary"
	"fmt"
)

// This file holds the few GVariant serialisation rules OSTree objects need
// (https://developer.gnome.org/documentation/specifications/gvariant-specification-1.0.html):
// members are aligned relative to the start of their container, and every
// variable-sized member of a tuple except the last has its end recorded in a
// little-endian framing-offset table at the end of the container (in reverse
// member order for tuples, element order for arrays). The offset width is the
// smallest of 1, 2, 4 or 8 bytes that can address the whole container.
//
// We deliberately do not write a general GVariant library: OSTree needs
// exactly five shapes, and hand-written code for them is easier to verify.

// member is one serialised member of a tuple (or element of an array).
type member struct {
	data  []byte
	align int  // 1, 4 or 8
	fixed bool // fixed-size members carry no framing offset
}

func pad(b []byte, align int) []byte {
	for len(b)%align != 0 {
		b = append(b, 0)
	}
	return b
}

// offsetSize returns the framing-offset width for a container whose body is
// body bytes long and which needs n offsets.
func offsetSize(body, n int) int {
	if n == 0 {
		return 0
	}
	for _, k := range []int{1, 2, 4} {
		if uint64(body+n*k) < uint64(1)<<(8*k) {
			return k
		}
	}
	return 8
}

// containerOffsetSize is the framing-offset width a reader derives from the
// total size of a container.
func containerOffsetSize(size int) int {
	switch {
	case size == 0:
		return 0
	case size <= 0xff:
		return 1
	case size <= 0xffff:
		return 2
	case uint64(size) <= 0xffffffff:
		return 4
	}
	return 8
}

func appendOffsets(b []byte, offsets []int) []byte {
	k := offsetSize(len(b), len(offsets))
	for _, o := range offsets {
		for i := 0; i < k; i++ {
			b = append(b, byte(o>>(8*i)))
		}
	}
	return b
}

func readOffset(b []byte, k int) int {
	var v uint64
	for i := k - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return int(v)
}

// encodeTuple serialises a non-fixed-size tuple.
func encodeTuple(members ...member) []byte {
	var b []byte
	var ends []int
	for i, m := range members {
		b = pad(b, m.align)
		b = append(b, m.data...)
		if !m.fixed && i != len(members)-1 {
			ends = append(ends, len(b))
		}
	}
	// Tuples list their framing offsets last-member-first.
	for i, j := 0, len(ends)-1; i < j; i, j = i+1, j-1 {
		ends[i], ends[j] = ends[j], ends[i]
	}
	return appendOffsets(b, ends)
}

// encodeArray serialises an array of variable-sized elements.
func encodeArray(align int, elems [][]byte) []byte {
	var b []byte
	ends := make([]int, 0, len(elems))
	for _, e := range elems {
		b = pad(b, align)
		b = append(b, e...)
		ends = append(ends, len(b))
	}
	return appendOffsets(b, ends)
}

func encodeString(s string) []byte { return append([]byte(s), 0) }

func encodeU32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func encodeU64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// field describes one tuple member for decodeTuple.
type field struct {
	align int
	size  int // fixed size in bytes, 0 for variable-sized
}

var (
	fU32   = field{align: 4, size: 4}
	fU64   = field{align: 8, size: 8}
	fVar1  = field{align: 1} // s, ay, a(say), a(ayay) ...
	fVar8  = field{align: 8} // a{sv}
	errBad = fmt.Errorf("malformed GVariant")
)

// decodeTuple splits a serialised non-fixed-size tuple into its members.
func decodeTuple(b []byte, fields ...field) ([][]byte, error) {
	k := containerOffsetSize(len(b))
	framed := 0
	for i, f := range fields {
		if f.size == 0 && i != len(fields)-1 {
			framed++
		}
	}
	tableStart := len(b) - framed*k
	if tableStart < 0 {
		return nil, errBad
	}
	out := make([][]byte, len(fields))
	pos, nth := 0, 0
	for i, f := range fields {
		pos = (pos + f.align - 1) / f.align * f.align
		var end int
		switch {
		case f.size > 0:
			end = pos + f.size
		case i == len(fields)-1:
			end = tableStart
		default:
			nth++
			end = readOffset(b[len(b)-nth*k:], k)
		}
		if pos > end || end > tableStart {
			return nil, errBad
		}
		out[i] = b[pos:end]
		pos = end
	}
	return out, nil
}

// decodeArray splits a serialised array of variable-sized elements.
func decodeArray(b []byte, align int) ([][]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	k := containerOffsetSize(len(b))
	tableStart := readOffset(b[len(b)-k:], k)
	if tableStart > len(b) || (len(b)-tableStart)%k != 0 {
		return nil, errBad
	}
	n := (len(b) - tableStart) / k
	out := make([][]byte, 0, n)
	pos := 0
	for i := 0; i < n; i++ {
		pos = (pos + align - 1) / align * align
		end := readOffset(b[tableStart+i*k:], k)
		if pos > end || end > tableStart {
			return nil, errBad
		}
		out = append(out, b[pos:end])
		pos = end
	}
	return out, nil
}

func decodeString(b []byte) (string, error) {
	if len(b) == 0 || b[len(b)-1] != 0 {
		return "", errBad
	}
	return string(b[:len(b)-1]), nil
}
