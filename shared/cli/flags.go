package cli

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// HintFlag registers a hidden flag for one users bring from another tool
// (ocne) that means nothing here, or something else: giving it fails
// with the usage error hint(value) instead of pflag's "unknown flag".
// Args reports it.
func HintFlag(c *cobra.Command, name, shorthand string, hint func(value string) string) {
	c.Flags().VarPF(&hintValue{hint: hint}, name, shorthand, "").Hidden = true
}

type hintValue struct {
	hint  func(string) string
	value string
}

func (h *hintValue) String() string     { return h.value }
func (h *hintValue) Set(v string) error { h.value = v; return nil }
func (h *hintValue) Type() string       { return "string" }

// hinted returns the usage error of the first hint flag given.
func hinted(c *cobra.Command) error {
	var err error
	c.Flags().Visit(func(f *pflag.Flag) {
		if h, ok := f.Value.(*hintValue); ok && err == nil {
			err = Usage(errors.New(h.hint(h.value)))
		}
	})
	return err
}

// Args marks a positional-argument check's failures as usage errors,
// after reporting any HintFlag given.
func Args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := hinted(c); err != nil {
			return err
		}
		if err := check(c, args); err != nil {
			return Usagef("%w; see '%s --help'", err, c.CommandPath())
		}
		return nil
	}
}

// FixedCompletion completes a flag from a fixed list of values.
func FixedCompletion(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// AddAuthFileFlag registers --authfile, the registry credentials file
// (auth.json), under Podman's and skopeo's name, with --registry-auth,
// create's old name for it, as its deprecated alias.
func AddAuthFileFlag(c *cobra.Command, file *string, usage string) {
	c.Flags().StringVar(file, "authfile", "", usage)
	c.Flags().StringVar(file, "registry-auth", "", usage)
	c.Flags().MarkDeprecated("registry-auth", "use --authfile")
	c.MarkFlagFilename("authfile", "json")
}

// AddVerboseFlag registers -v/--verbose, as kubectl has it: a count (-v,
// -vv, -v=2) of how much more to say on stderr. It also takes true and
// false, which podman-ocne serve's --verbose was.
func AddVerboseFlag(c *cobra.Command, n *int, usage string) {
	f := c.Flags().VarPF(&verbosity{n}, "verbose", "v", usage)
	f.NoOptDefVal = "+1"
}

type verbosity struct{ n *int }

func (v *verbosity) String() string {
	if v.n == nil {
		return "0"
	}
	return strconv.Itoa(*v.n)
}

func (v *verbosity) Set(s string) error {
	switch s {
	case "+1": // -v
		*v.n++
	case "true":
		*v.n = max(*v.n, 1)
	case "false":
		*v.n = 0
	default:
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("want a count, such as 2")
		}
		*v.n = n
	}
	return nil
}

// Type is "count", so that help shows it as pflag's own counts.
func (v *verbosity) Type() string { return "count" }
