package cli

import (
	"io"
	"testing"

	"github.com/spf13/cobra"
)

func TestVerboseFlag(t *testing.T) {
	tests := []struct {
		args    []string
		want    int
		wantErr bool
	}{
		{args: nil, want: 0},
		{args: []string{"-v"}, want: 1},
		{args: []string{"-vv"}, want: 2},
		{args: []string{"-v", "-v", "-v"}, want: 3},
		{args: []string{"-v=4"}, want: 4},
		{args: []string{"--verbose"}, want: 1},
		{args: []string{"--verbose=2"}, want: 2},
		// podman-ocne serve's --verbose was a bool.
		{args: []string{"--verbose=true"}, want: 1},
		{args: []string{"-vv", "--verbose=true"}, want: 2},
		{args: []string{"-v", "--verbose=false"}, want: 0},
		{args: []string{"-v=lots"}, wantErr: true},
		{args: []string{"--verbose=-1"}, wantErr: true},
	}
	for _, tt := range tests {
		var n int
		c := &cobra.Command{Use: "x"}
		AddVerboseFlag(c, &n, "say more")
		c.Flags().SetOutput(io.Discard)
		err := c.ParseFlags(tt.args)
		if (err != nil) != tt.wantErr || err == nil && n != tt.want {
			t.Errorf("%q: verbosity %d (%v), want %d (error %v)", tt.args, n, err, tt.want, tt.wantErr)
		}
	}
}
