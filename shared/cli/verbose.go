package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

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
