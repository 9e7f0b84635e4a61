package archiverepo

import (
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// encoder turns a content object into its archive form: the archive
// header, then the content deflated. Repo and Stream share it, so both
// write the same bytes for the same object.
type encoder struct {
	level   int
	writers sync.Pool // *flate.Writer, which is expensive to allocate
}

func newEncoder(opts []Option) *encoder {
	e := &encoder{level: DefaultLevel}
	for _, o := range opts {
		o(e)
	}
	return e
}

// encode writes the object to w and returns its checksum, which must be
// *want if want is set. content is read to EOF and must hold exactly size
// bytes (nothing for a symlink). The caller validates h.
func (e *encoder) encode(w io.Writer, want *ostree.Checksum, h *ostree.FileHeader, size int64, content io.Reader) (ostree.Checksum, error) {
	if _, err := w.Write(h.ArchiveHeader(uint64(size))); err != nil {
		return ostree.Checksum{}, fmt.Errorf("write: %w", err)
	}
	sum := ostree.NewContentHash(h)
	if !h.IsSymlink() {
		zw := e.flateWriter(w)
		n, err := io.Copy(io.MultiWriter(sum, zw), content)
		if err == nil {
			err = zw.Close()
		}
		e.writers.Put(zw)
		if err != nil {
			return ostree.Checksum{}, fmt.Errorf("write: %w", err)
		}
		if n != size {
			return ostree.Checksum{}, fmt.Errorf("got %d bytes, header says %d: %w", n, size, io.ErrUnexpectedEOF)
		}
	}
	c := ostree.SumHash(sum)
	if want != nil && c != *want {
		return ostree.Checksum{}, fmt.Errorf("%w (data hashes to %s)", ErrChecksum, c)
	}
	return c, nil
}

func (e *encoder) flateWriter(w io.Writer) *flate.Writer {
	if zw, ok := e.writers.Get().(*flate.Writer); ok {
		zw.Reset(w)
		return zw
	}
	zw, err := flate.NewWriter(w, e.level)
	if err != nil { // only for an invalid level, which options reject
		panic(err)
	}
	return zw
}
