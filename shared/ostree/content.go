package ostree

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io/fs"
)

// File type bits of a content object's mode (Linux values; OSTree stores
// them verbatim, so they must not depend on the host).
const (
	ModeTypeMask = 0o170000
	ModeRegular  = 0o100000
	ModeSymlink  = 0o120000
	ModeDir      = 0o040000
)

// FileHeader describes a content object: (uuuusa(ayay)) uid, gid, mode
// (with the file type bits), rdev, symlink target, xattrs.
type FileHeader struct {
	UID, GID, Mode uint32
	SymlinkTarget  string
	Xattrs         Xattrs
}

// IsSymlink reports whether the header describes a symbolic link.
func (h *FileHeader) IsSymlink() bool { return h.Mode&ModeTypeMask == ModeSymlink }

// Validate rejects headers OSTree would not store.
func (h *FileHeader) Validate() error {
	switch h.Mode & ModeTypeMask {
	case ModeRegular:
		if h.SymlinkTarget != "" {
			return fmt.Errorf("regular file with a symlink target")
		}
	case ModeSymlink:
		if h.SymlinkTarget == "" {
			return fmt.Errorf("symlink without a target")
		}
	default:
		return fmt.Errorf("unsupported file mode %#o", h.Mode)
	}
	return nil
}

func (h *FileHeader) variant(size uint64, withSize bool) []byte {
	members := make([]member, 0, 7)
	if withSize {
		members = append(members, member{data: encodeU64(size), align: 8, fixed: true})
	}
	members = append(members,
		member{data: encodeU32(h.UID), align: 4, fixed: true},
		member{data: encodeU32(h.GID), align: 4, fixed: true},
		member{data: encodeU32(h.Mode), align: 4, fixed: true},
		member{data: encodeU32(0), align: 4, fixed: true}, // rdev
		member{data: encodeString(h.SymlinkTarget), align: 1},
		member{data: h.Xattrs.Marshal(), align: 1},
	)
	return encodeTuple(members...)
}

// sizePrefixed frames a variant the way OSTree writes headers to streams:
// a 4-byte big-endian length, 4 bytes of padding, then the variant.
func sizePrefixed(v []byte) []byte {
	b := make([]byte, 8, 8+len(v))
	binary.BigEndian.PutUint32(b, uint32(len(v)))
	return append(b, v...)
}

// ChecksumHeader returns the bytes that precede a file's content in its
// checksum.
func (h *FileHeader) ChecksumHeader() []byte { return sizePrefixed(h.variant(0, false)) }

// ArchiveHeader returns the header of an archive (.filez) object for a
// file of the given uncompressed size: (tuuuusa(ayay)).
func (h *FileHeader) ArchiveHeader(size uint64) []byte { return sizePrefixed(h.variant(size, true)) }

// ParseArchiveHeader reads the header at the start of a .filez object and
// returns it with the content size and the header's length in bytes.
func ParseArchiveHeader(b []byte) (h *FileHeader, size uint64, n int, err error) {
	if len(b) < 8 {
		return nil, 0, 0, fmt.Errorf("filez header: short object: %w", errBad)
	}
	vlen := int(binary.BigEndian.Uint32(b))
	if 8+vlen > len(b) {
		return nil, 0, 0, fmt.Errorf("filez header of %d bytes: %w", vlen, errBad)
	}
	m, err := decodeTuple(b[8:8+vlen], fU64, fU32, fU32, fU32, fU32, fVar1, fVar1)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("filez header: %w", err)
	}
	h = &FileHeader{
		UID:  binary.BigEndian.Uint32(m[1]),
		GID:  binary.BigEndian.Uint32(m[2]),
		Mode: binary.BigEndian.Uint32(m[3]),
	}
	if h.SymlinkTarget, err = decodeString(m[5]); err != nil {
		return nil, 0, 0, fmt.Errorf("filez symlink target: %w", err)
	}
	if h.Xattrs, err = ParseXattrs(m[6]); err != nil {
		return nil, 0, 0, fmt.Errorf("filez: %w", err)
	}
	return h, binary.BigEndian.Uint64(m[0]), 8 + vlen, nil
}

// NewContentHash returns a hash primed with the header; writing the file's
// content (nothing for a symlink) into it yields the content checksum.
func NewContentHash(h *FileHeader) hash.Hash {
	s := sha256.New()
	s.Write(h.ChecksumHeader())
	return s
}

// SumHash reads the checksum out of a hash.
func SumHash(h hash.Hash) Checksum {
	var c Checksum
	h.Sum(c[:0])
	return c
}

// ModeFromFS converts Go file mode bits to the Linux st_mode OSTree stores.
func ModeFromFS(m fs.FileMode) uint32 {
	mode := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	switch {
	case m&fs.ModeSymlink != 0:
		mode |= ModeSymlink
	case m.IsDir():
		mode |= ModeDir
	default:
		mode |= ModeRegular
	}
	return mode
}
