package archiverepo

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
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
// bytes (nothing for a symlink); tap, if not nil, gets a copy of it, in
// order. The caller validates h.
func (e *encoder) encode(w io.Writer, want *ostree.Checksum, h *ostree.FileHeader, size int64, content io.Reader, tap io.Writer) (ostree.Checksum, error) {
	if _, err := w.Write(h.ArchiveHeader(uint64(size))); err != nil {
		return ostree.Checksum{}, fmt.Errorf("write: %w", err)
	}
	sum := ostree.NewContentHash(h)
	var seen io.Writer = sum // what reads the content in order
	if tap != nil {
		seen = io.MultiWriter(sum, tap)
	}
	if !h.IsSymlink() && size >= 2*chunkSize {
		if err := e.deflateChunks(w, seen, size, content); err != nil {
			return ostree.Checksum{}, err
		}
	} else if !h.IsSymlink() {
		zw := e.flateWriter(w)
		n, err := io.Copy(io.MultiWriter(seen, zw), content)
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

// Large objects are deflated in chunks of chunkSize on all CPUs at once,
// as pigz does: each chunk is compressed on its own with the 32 KiB before
// it as the dictionary and ended with a sync flush (the last one with the
// final block), so the chunks' outputs laid end to end are one deflate
// stream, hardly larger than a sequential one. One large file (a kubelet,
// an initramfs) would otherwise keep one core busy while the rest wait.
const (
	chunkSize  = 1 << 20
	dictWindow = 32 << 10
)

type chunk struct {
	in, dict []byte
	last     bool
	out      bytes.Buffer
	err      error
	done     chan struct{}
}

// deflateChunks reads size bytes of content, writing them to sum in
// order, and writes them deflated to w.
func (e *encoder) deflateChunks(w io.Writer, sum io.Writer, size int64, content io.Reader) error {
	// At most this many chunks are read and not yet written.
	queue := make(chan *chunk, runtime.GOMAXPROCS(0)+1)
	written := make(chan error, 1)
	go func() {
		var err error
		for c := range queue {
			<-c.done
			if err == nil {
				err = c.err
			}
			if err == nil {
				_, err = c.out.WriteTo(w)
			}
		}
		written <- err
	}()
	var dict []byte
	var readErr error
	for off := int64(0); off < size; {
		c := &chunk{in: make([]byte, min(chunkSize, size-off)), dict: dict, done: make(chan struct{})}
		n, err := io.ReadFull(content, c.in)
		if err != nil {
			readErr = fmt.Errorf("got %d bytes, header says %d: %w", off+int64(n), size, io.ErrUnexpectedEOF)
			break
		}
		sum.Write(c.in)
		off += int64(n)
		c.last = off == size
		// The dictionary is a copy: the chunk it comes from may be
		// written and dropped before this one is compressed.
		dict = bytes.Clone(c.in[max(0, len(c.in)-dictWindow):])
		queue <- c
		go e.deflateChunk(c)
	}
	close(queue)
	err := <-written
	if readErr != nil {
		return readErr
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	// Content beyond size is an error, as for small objects.
	if n, _ := io.Copy(io.Discard, content); n > 0 {
		return fmt.Errorf("got %d bytes, header says %d: %w", size+n, size, io.ErrUnexpectedEOF)
	}
	return nil
}

func (e *encoder) deflateChunk(c *chunk) {
	defer close(c.done)
	zw := e.flateWriter(&c.out)
	if c.dict != nil {
		zw.ResetDict(&c.out, c.dict)
	}
	defer func() {
		// A pooled writer must not keep the dictionary: Reset reuses it.
		zw.ResetDict(nil, nil)
		e.writers.Put(zw)
	}()
	_, c.err = zw.Write(c.in)
	if c.err == nil && c.last {
		c.err = zw.Close()
	} else if c.err == nil {
		c.err = zw.Flush()
	}
	c.in = nil
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
