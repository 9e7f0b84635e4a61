package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestPrintFlags parses -o and its deprecated alias as a command would,
// and prints a result both ways.
func TestPrintFlags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		alias      bool
		wantFormat string
		wantErr    string // of Validate
		wantOut    string
	}{
		{name: "default", wantFormat: "text", wantOut: "v is 1\n"},
		{name: "-o json", args: []string{"-o", "json"}, wantFormat: "json", wantOut: `{"v":1}` + "\n"},
		{name: "--output=text", args: []string{"--output=text"}, wantFormat: "text", wantOut: "v is 1\n"},
		{name: "a bad format", args: []string{"-o", "yaml"}, wantFormat: "text", wantErr: `invalid --output "yaml": use text or json`},
		{name: "a good one after a bad one", args: []string{"-o", "bogus", "-o", "json"}, wantFormat: "json", wantOut: `{"v":1}` + "\n"},
		{name: "the alias", args: []string{"--output-format", "json"}, alias: true, wantFormat: "json", wantOut: `{"v":1}` + "\n"},
		{name: "a bad format to the alias", args: []string{"--output-format", "bogus"}, alias: true, wantFormat: "text",
			wantErr: `invalid --output-format "bogus": use text or json`},
		{name: "no alias where there was none", args: []string{"--output-format", "json"}, wantErr: "unknown flag: --output-format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPrintFlags()
			c := &cobra.Command{Use: "x"}
			p.AddFlags(c)
			if tt.alias {
				p.AddOutputFormatAlias(c)
			}
			c.Flags().SetOutput(io.Discard)
			err := c.ParseFlags(tt.args)
			if err == nil {
				err = p.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != tt.wantFormat {
				t.Errorf("format %q, want %q", p.Format, tt.wantFormat)
			}
			var out bytes.Buffer
			err = p.Print(&out, map[string]int{"v": 1}, func(w io.Writer) error {
				_, err := io.WriteString(w, "v is 1\n")
				return err
			})
			if err != nil || out.String() != tt.wantOut {
				t.Errorf("printed %q (%v), want %q", out.String(), err, tt.wantOut)
			}
		})
	}
}

func TestPrintJSONIndent(t *testing.T) {
	p := NewPrintFlags()
	p.Format, p.JSONIndent = FormatJSON, "  "
	var out bytes.Buffer
	if err := p.Print(&out, map[string]int{"v": 1}, nil); err != nil || out.String() != "{\n  \"v\": 1\n}\n" {
		t.Errorf("printed %q (%v)", out.String(), err)
	}
}

// TestDeprecationWarnings: pflag's word on a deprecated flag goes to the
// error stream, never into the output a script parses.
func TestDeprecationWarnings(t *testing.T) {
	p := NewPrintFlags()
	root := &cobra.Command{Use: "root"}
	sub := &cobra.Command{Use: "sub", RunE: func(c *cobra.Command, _ []string) error {
		return p.Print(c.OutOrStdout(), map[string]int{"v": 1}, nil)
	}}
	p.AddFlags(sub)
	p.AddOutputFormatAlias(sub)
	root.AddCommand(sub)
	Setup(root)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"sub", "--output-format", "json"})
	if code := Execute(context.Background(), root, &errOut, nil); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if out.String() != `{"v":1}`+"\n" {
		t.Errorf("stdout %q", out.String())
	}
	if !strings.Contains(errOut.String(), "--output-format has been deprecated, use -o/--output") {
		t.Errorf("stderr %q", errOut.String())
	}
}
