// Package ostree implements the OSTree object model: commit, dirtree, dirmeta
// and content objects, their GVariant serialisation, and their checksums.
package ostree

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
)

// Checksum is the SHA-256 that names an OSTree object.
type Checksum [sha256.Size]byte

// ParseChecksum parses 64 lowercase hexadecimal characters.
func ParseChecksum(s string) (Checksum, error) {
	var c Checksum
	if len(s) != 2*len(c) {
		return c, fmt.Errorf("invalid OSTree checksum %q: want 64 hex characters", s)
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return c, fmt.Errorf("invalid OSTree checksum %q: want lowercase hex", s)
		}
	}
	_, err := hex.Decode(c[:], []byte(s))
	return c, err
}

func checksumFromBytes(b []byte) (Checksum, error) {
	var c Checksum
	if len(b) != len(c) {
		return c, fmt.Errorf("checksum of %d bytes, want %d: %w", len(b), len(c), errBad)
	}
	copy(c[:], b)
	return c, nil
}

func (c Checksum) String() string { return hex.EncodeToString(c[:]) }

// IsZero reports whether c is unset.
func (c Checksum) IsZero() bool { return c == Checksum{} }

// SumBytes returns the checksum of a metadata object's serialised bytes.
func SumBytes(b []byte) Checksum { return sha256.Sum256(b) }

// ObjectType is the kind of an object, as its file suffix says.
type ObjectType int

const (
	ObjCommit ObjectType = iota + 1
	ObjCommitMeta
	ObjDirTree
	ObjDirMeta
	ObjFile  // content object in a bare or bare-split-xattrs repository
	ObjFileZ // content object in an archive repository
)

var suffixes = map[ObjectType]string{
	ObjCommit:     "commit",
	ObjCommitMeta: "commitmeta",
	ObjDirTree:    "dirtree",
	ObjDirMeta:    "dirmeta",
	ObjFile:       "file",
	ObjFileZ:      "filez",
}

// Suffix returns the object file suffix without its dot.
func (t ObjectType) Suffix() string { return suffixes[t] }

func (t ObjectType) String() string { return t.Suffix() }

// IsMetadata reports whether objects of this type are stored as their raw
// serialised bytes and named by the SHA-256 of those bytes.
func (t ObjectType) IsMetadata() bool {
	return t == ObjCommit || t == ObjDirTree || t == ObjDirMeta
}

// ObjectTypeFromSuffix is the inverse of Suffix.
func ObjectTypeFromSuffix(s string) (ObjectType, bool) {
	for t, suf := range suffixes {
		if suf == s {
			return t, true
		}
	}
	return 0, false
}

// ObjectPath returns the path of an object relative to a repository root:
// objects/ab/cdef....suffix.
func ObjectPath(c Checksum, t ObjectType) string {
	h := c.String()
	return path.Join("objects", h[:2], h[2:]+"."+t.Suffix())
}
