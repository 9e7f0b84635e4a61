package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
)

// The formats -o takes.
const (
	FormatText = "text"
	FormatJSON = "json"
)

var formats = []string{FormatText, FormatJSON}

// PrintFlags is -o/--output, as kubectl has it: how a command prints its
// result, as text for people or as JSON for scripts. A command that writes
// a file takes it as --output-file.
type PrintFlags struct {
	// Format is FormatText or FormatJSON.
	Format string
	// JSONIndent indents the JSON (serve and create always did).
	JSONIndent string

	// bad is a value given that is no format, and the flag it was given
	// to: Validate reports it, after the command's earlier checks.
	bad, badFlag string

	// The --output-file of a command whose -o was the file, and the value
	// of a deprecated -o FILE.
	c       *cobra.Command
	file    *string
	oldFile string
	warned  bool
}

// NewPrintFlags returns the flags for printing as text.
func NewPrintFlags() *PrintFlags { return &PrintFlags{Format: FormatText} }

// AddFlags registers -o/--output on c.
func (p *PrintFlags) AddFlags(c *cobra.Command) {
	p.c = c
	c.Flags().VarP(&formatValue{p: p, flag: "output"}, "output", "o", "how to print the result: text or json")
	c.RegisterFlagCompletionFunc("output", FixedCompletion(formats...))
}

// AddFileFlag registers --output-file FILE on c, for a command whose -o
// was the file it writes. For one release -o FILE still sets it: a value
// of -o that is no format is taken as the file, with a warning.
func (p *PrintFlags) AddFileFlag(c *cobra.Command, file *string, usage string, extensions ...string) {
	p.c, p.file = c, file
	c.Flags().StringVar(file, "output-file", *file, usage)
	c.MarkFlagFilename("output-file", extensions...)
}

// AddOutputFormatAlias registers --output-format, the name -o had in the
// commands that took a file as -o, deprecated.
func (p *PrintFlags) AddOutputFormatAlias(c *cobra.Command) {
	c.Flags().Var(&formatValue{p: p, flag: "output-format"}, "output-format", "how to print the result: text or json")
	c.Flags().MarkDeprecated("output-format", "use -o/--output")
}

// Validate refuses a value that is no format, and a file given both as
// -o FILE and --output-file, as usage errors.
func (p *PrintFlags) Validate() error {
	if p.badFlag != "" {
		return Usagef("invalid --%s %q: use text or json", p.badFlag, p.bad)
	}
	if p.oldFile != "" && p.fileFlagSet() && *p.file != p.oldFile {
		return Usagef("-o %s and --output-file %s: pass the file once, as --output-file", p.oldFile, *p.file)
	}
	return nil
}

func (p *PrintFlags) fileFlagSet() bool { return p.c.Flags().Changed("output-file") }

// JSON reports whether the result is to be printed as JSON.
func (p *PrintFlags) JSON() bool { return p.Format == FormatJSON }

// Print writes v to w as JSON, or has text write it for people.
func (p *PrintFlags) Print(w io.Writer, v any, text func(io.Writer) error) error {
	if !p.JSON() {
		return text(w)
	}
	e := json.NewEncoder(w)
	e.SetIndent("", p.JSONIndent)
	if err := e.Encode(v); err != nil {
		return fmt.Errorf("print the result as JSON: %w", err)
	}
	return nil
}

// formatValue is one flag that sets p.Format.
type formatValue struct {
	p    *PrintFlags
	flag string
}

func (v *formatValue) String() string {
	if v.p == nil {
		return FormatText
	}
	return v.p.Format
}

func (v *formatValue) Set(s string) error {
	p := v.p
	switch {
	case slices.Contains(formats, s):
		p.Format, p.bad, p.badFlag = s, "", ""
	case v.flag == "output" && p.file != nil:
		// The deprecated -o FILE.
		if !p.warned {
			fmt.Fprintln(p.c.ErrOrStderr(), "warning: -o FILE is deprecated; use --output-file FILE")
			p.warned = true
		}
		p.oldFile = s
		if !p.fileFlagSet() {
			*p.file = s
		}
	default:
		p.bad, p.badFlag = s, v.flag
	}
	return nil
}

func (v *formatValue) Type() string { return "string" }
