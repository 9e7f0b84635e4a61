package cmd

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestFlagSpellings parses each command's flags as users type them: -o is
// the output format and -v a count, as in kubectl ocne-image; serve's
// --verbose=true, from when it was a bool, still works.
func TestFlagSpellings(t *testing.T) {
	tests := []struct {
		args string
		want map[string]string // flag: value once parsed
	}{
		{"load --file ock.tar", map[string]string{"output": "text"}},
		{"load --file ock.tar -o json", map[string]string{"output": "json"}},
		{"serve --output json", map[string]string{"output": "json"}},
		{"status -o json", map[string]string{"output": "json"}},
		{"serve", map[string]string{"verbose": "0"}},
		{"serve -v", map[string]string{"verbose": "1"}},
		{"serve -vv", map[string]string{"verbose": "2"}},
		{"serve --verbose=true", map[string]string{"verbose": "1"}},
		{"serve -v --verbose=false", map[string]string{"verbose": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var stderr bytes.Buffer
			root := NewCmdPodmanOcne(genericiooptions.NewTestIOStreamsDiscard())
			root.SetErr(&stderr)
			c, args, err := root.Find(strings.Fields(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			c.Flags().SetOutput(&stderr)
			if err := c.ParseFlags(args); err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				if got := c.Flags().Lookup(name).Value.String(); got != want {
					t.Errorf("--%s %q, want %q", name, got, want)
				}
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr %q", stderr.String())
			}
		})
	}
}
