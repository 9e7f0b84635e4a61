package archiverepo

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// spoolKeep is the most memory an empty spool keeps for the next object.
const spoolKeep = 256 << 10

// spool holds one compressed object until the stream can take it: in
// memory up to limit bytes, the rest in an unlinked temp file in dir.
type spool struct {
	dir   string
	limit int
	mem   []byte
	f     *os.File
	fw    *bufio.Writer
	fsize int64
}

func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil && len(s.mem)+len(p) <= s.limit {
		s.mem = append(s.mem, p...)
		return len(p), nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(s.dir, ".spool-")
		if err != nil {
			return 0, fmt.Errorf("spool a large object: %w", err)
		}
		// Unlinked at once: nothing is left behind, whatever happens.
		os.Remove(f.Name())
		s.f, s.fw = f, bufio.NewWriterSize(f, 256<<10)
	}
	n, err := s.fw.Write(p)
	s.fsize += int64(n)
	return n, err
}

func (s *spool) size() int64 { return int64(len(s.mem)) + s.fsize }

// WriteTo copies everything spooled to w.
func (s *spool) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(s.mem)
	if err != nil || s.f == nil {
		return int64(n), err
	}
	if err := s.fw.Flush(); err != nil {
		return int64(n), fmt.Errorf("spool: %w", err)
	}
	m, err := io.Copy(w, io.NewSectionReader(s.f, 0, s.fsize))
	return int64(n) + m, err
}

// reset empties the spool for the next object, keeping its memory unless
// a large object grew it: those are rare, and a spool that kept limit
// bytes for each would hold most of the heap between them.
func (s *spool) reset() {
	s.mem = s.mem[:0]
	if cap(s.mem) > spoolKeep {
		s.mem = nil
	}
	if s.f != nil {
		s.f.Close()
		s.f, s.fw, s.fsize = nil, nil, 0
	}
}
