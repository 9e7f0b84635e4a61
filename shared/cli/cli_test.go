package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/spf13/cobra"
)

var errLibrary = errors.New("no route to the thing")

// TestExecuteHints: Execute prints a failure in one line with what the
// binary's Hint adds, once, and keeps its exit code.
func TestExecuteHints(t *testing.T) {
	hint := func(err error) error {
		if errors.Is(err, errLibrary) {
			return WithHint(err, "; pass --thing")
		}
		return err
	}
	tests := []struct {
		name     string
		err      error
		wantCode int
		want     string
	}{
		{"a library error", fmt.Errorf("reach it: %w", errLibrary), ExitError, "error: reach it: no route to the thing; pass --thing\n"},
		{"as a usage error", Usage(errLibrary), ExitUsage, "error: no route to the thing; pass --thing\n"},
		{"hinted already", fmt.Errorf("%w: or else", WithHint(errLibrary, ": pass --other")), ExitError,
			"error: no route to the thing: pass --other: or else\n"},
		{"no hint for it", errors.New("other"), ExitError, "error: other\n"},
		{"interrupted", fmt.Errorf("%w: %w", errLibrary, context.Canceled), ExitError, "error: interrupted; nothing was left behind\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return tt.err }}
			Setup(c)
			c.SetArgs(nil)
			var errOut bytes.Buffer
			if code := Execute(context.Background(), c, &errOut, hint); code != tt.wantCode || errOut.String() != tt.want {
				t.Errorf("exit %d, %q; want exit %d, %q", code, errOut.String(), tt.wantCode, tt.want)
			}
		})
	}
}
