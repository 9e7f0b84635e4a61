package deltapart

import (
	"bufio"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// Opener opens a file of the archive repository a part is rebuilt from,
// by its path relative to the repository root (objects/ab/cdef....filez).
type Opener func(name string) (io.ReadCloser, error)

// ErrMismatch reports a rebuilt part that is not the part the superblock
// lists: an object on disk is not what the recipe was made from.
var ErrMismatch = errors.New("rebuilt delta part does not match its recipe")

// maxHeader bounds a .filez header (it holds the xattrs), as a sanity
// check on what is read into memory.
const maxHeader = 1 << 20

// Assemble writes the part file of r to w, reading the objects through
// open. It checks the size and sha256 of what it wrote against the
// recipe; on an error the bytes written are not the part, so callers
// write to a temp file and keep it only on success.
func Assemble(w io.Writer, r *Recipe, open Opener) error {
	sum := sha256.New()
	pw := NewWriter(io.MultiWriter(w, sum))
	pw.Write(r.Head)
	br := bufio.NewReaderSize(nil, 64<<10)
	var zr io.ReadCloser
	for _, s := range r.Sources {
		if err := copySource(pw, s, open, br, &zr); err != nil {
			return fmt.Errorf("delta part: %s object %s: %w", s.Type, s.Checksum, err)
		}
	}
	pw.Write(r.Tail)
	n, err := pw.Close()
	if err != nil {
		return fmt.Errorf("delta part: %w", err)
	}
	if n != r.Size || [32]byte(sum.Sum(nil)) != r.Checksum {
		return ErrMismatch
	}
	return nil
}

// copySource writes the bytes of s that a part carries; br and zr are
// reused from object to object.
func copySource(w io.Writer, s Source, open Opener, br *bufio.Reader, zr *io.ReadCloser) error {
	name := ostree.ObjectPath(s.Checksum, s.Type)
	if s.Type == ostree.ObjFile {
		name = ostree.ObjectPath(s.Checksum, ostree.ObjFileZ)
	}
	f, err := open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	br.Reset(f)
	if s.Type != ostree.ObjFile {
		return copyExactly(w, br, s.Size)
	}
	// A .filez object: the header (which holds a symlink's target), then
	// the content, deflated.
	prefix, err := br.Peek(8)
	if err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	hlen := 8 + int(binary.BigEndian.Uint32(prefix))
	if hlen > maxHeader {
		return fmt.Errorf("header of %d bytes: %w", hlen, ErrMismatch)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(br, hb); err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	h, size, _, err := ostree.ParseArchiveHeader(hb)
	if err != nil {
		return err
	}
	if h.IsSymlink() {
		if int64(len(h.SymlinkTarget)) != s.Size {
			return ErrMismatch
		}
		_, err := io.WriteString(w, h.SymlinkTarget)
		return err
	}
	if int64(size) != s.Size {
		return fmt.Errorf("%d bytes, the recipe says %d: %w", size, s.Size, ErrMismatch)
	}
	if *zr == nil {
		*zr = flate.NewReader(br)
	} else if err := (*zr).(flate.Resetter).Reset(br, nil); err != nil {
		return err
	}
	return copyExactly(w, *zr, s.Size)
}

func copyExactly(w io.Writer, r io.Reader, n int64) error {
	got, err := io.CopyN(w, r, n)
	if err == io.EOF {
		return fmt.Errorf("%d bytes, the recipe says %d: %w", got, n, ErrMismatch)
	}
	return err
}
