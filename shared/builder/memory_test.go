package builder

import (
	"runtime/debug"
	"testing"
)

func TestLimitMemory(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		want      int64
	}{
		{"default", "", MemoryLimit},
		{"the user's GOMEMLIMIT wins", "1GiB", 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tc.env)
			before := debug.SetMemoryLimit(-1)
			if tc.env != "" {
				// The runtime reads GOMEMLIMIT at start; stand in for it.
				debug.SetMemoryLimit(tc.want)
				defer debug.SetMemoryLimit(before)
			}
			restore := LimitMemory()
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Errorf("during the build: limit %d, want %d", got, tc.want)
			}
			restore()
			want := before
			if tc.env != "" {
				want = tc.want
			}
			if got := debug.SetMemoryLimit(-1); got != want {
				t.Errorf("after: limit %d, want %d", got, want)
			}
		})
	}
}
