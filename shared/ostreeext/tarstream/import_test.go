package tarstream

import "testing"

func TestBufPools(t *testing.T) {
	for _, tc := range []struct {
		n, size int
	}{
		{0, 16 << 10},
		{1, 16 << 10},
		{16 << 10, 16 << 10},
		{16<<10 + 1, 128 << 10},
		{128 << 10, 128 << 10},
		{128<<10 + 1, bufferedFileSize},
		{bufferedFileSize, bufferedFileSize},
	} {
		var p bufPools
		b := p.get(tc.n)
		if len(*b) != tc.size {
			t.Errorf("get(%d): %d bytes, want %d", tc.n, len(*b), tc.size)
		}
		p.put(b)
		// A buffer goes back to its own class: the next get of that
		// size may reuse it, and one of another class never does.
		other := 1
		if tc.size == 16<<10 {
			other = bufferedFileSize
		}
		if o := p.get(other); o == b {
			t.Errorf("get(%d) reused the %d-byte buffer", other, tc.size)
		}
	}
}
