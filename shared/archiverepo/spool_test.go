package archiverepo

import (
	"bytes"
	"testing"
)

func TestSpoolReset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		limit int
		keep  bool // the memory stays for the next object
		file  bool // spooled to a temp file
	}{
		{"small", 1 << 10, 1 << 20, true, false},
		{"at spoolKeep", spoolKeep, 1 << 20, true, false},
		{"large, in memory", spoolKeep + 1, 1 << 20, false, false},
		{"larger than limit", 3 << 10, 2 << 10, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &spool{dir: t.TempDir(), limit: tc.limit}
			data := bytes.Repeat([]byte{'x'}, tc.size)
			// In two writes when the second must go to the file.
			chunks := [][]byte{data}
			if tc.file {
				chunks = [][]byte{data[:tc.size/2], data[tc.size/2:]}
			}
			for _, chunk := range chunks {
				if _, err := s.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
			if (s.f != nil) != tc.file {
				t.Errorf("spooled to a file: %v, want %v", s.f != nil, tc.file)
			}
			var out bytes.Buffer
			if n, err := s.WriteTo(&out); err != nil || n != int64(tc.size) || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("WriteTo: %d bytes, %v; want the %d written", n, err, tc.size)
			}
			s.reset()
			if s.size() != 0 || s.f != nil {
				t.Errorf("after reset: size %d, file %v", s.size(), s.f != nil)
			}
			if kept := s.mem != nil; kept != tc.keep {
				t.Errorf("memory kept: %v, want %v (cap %d)", kept, tc.keep, cap(s.mem))
			}
		})
	}
}
