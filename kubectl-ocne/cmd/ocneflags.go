package cmd

import (
	"github.com/spf13/cobra"

	"github.com/ocne-image/ocne-image/shared/cli"
	"github.com/ocne-image/ocne-image/shared/ock"
)

// versionArgs is cli.Args(check) for a command with --version whose -v is
// kubectl's --verbose: ocne's `-v 1.31` leaves 1.31 as an argument, which
// gets a hint instead of "unknown command".
func versionArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	args := cli.Args(check)
	return func(c *cobra.Command, a []string) error {
		if v := c.Flags().ShorthandLookup("v"); v != nil && v.Changed && len(a) == 1 {
			if _, ok := ock.MinorVersion(a[0]); ok {
				return cli.Usagef("-v means --verbose here, not ocne's --version: use --version %s", a[0])
			}
		}
		return args(c, a)
	}
}

// normalizeVersion turns a version written as ocne's documentation does
// (1.31.2, v1.31) into the minor version OCK images are tagged with, with
// a note on errOut; what is not a version is left for Validate to refuse.
func normalizeVersion(v string, note func(format string, args ...any)) string {
	m, ok := ock.MinorVersion(v)
	if ok && m != v {
		note("note: Kubernetes version %s taken as %s: OCK images are built per minor version\n", v, m)
	}
	return m
}
