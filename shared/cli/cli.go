// Package cli is the command layer kubectl ocne-image and podman-ocne
// share, so that scripts can rely on both the same way: cobra and pflag,
// exit codes and usage errors, every failure printed as one "error: ..."
// line, the flag hints added to library errors, -o/--output, -v, progress
// bars and shell completion. kubectl's cluster flags are in kubeflags, so
// that podman-ocne links no cluster client.
//
// The domain packages (the rest of shared/) import none of this, nor cobra
// or pflag: they return typed errors, which the commands restate in terms
// of their flags, and take small interfaces for progress (test/depcheck).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes scripts can rely on.
const (
	ExitOK    = 0
	ExitError = 1 // the operation failed
	ExitUsage = 2 // bad flags or arguments; nothing was attempted
)

// UsageError marks errors in what the user asked for, as opposed to
// failures while doing it.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usage marks err as the user's mistake (exit code 2).
func Usage(err error) error { return UsageError{err} }

// Usagef is Usage(fmt.Errorf(...)).
func Usagef(format string, args ...any) error { return UsageError{fmt.Errorf(format, args...)} }

// Setup makes root quiet on failure (Execute prints the one line) and
// turns flag parsing errors into usage errors that point at --help.
func Setup(root *cobra.Command) {
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return Usagef("%w; see '%s --help'", err, c.CommandPath())
	})
}

// Hint restates a library error in terms of a binary's flags, with
// WithHint, or returns it as it is: the libraries return typed errors
// and know no flags.
type Hint func(error) error

// WithHint is err followed by hint, which says what to do about it (the
// flag to pass, usually). Hint leaves an error that has one alone.
func WithHint(err error, format string, args ...any) error {
	return &hintedError{err: err, hint: fmt.Sprintf(format, args...)}
}

type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() + e.hint }
func (e *hintedError) Unwrap() error { return e.err }

// Execute runs the command, prints a failure as one line on errOut (with
// what hint adds to it; hint may be nil) and returns the process exit
// code. Cancelling ctx (Ctrl-C) stops the work; the commands clean up
// after themselves.
func Execute(ctx context.Context, c *cobra.Command, errOut io.Writer, hint Hint) int {
	warnTo(c, errOut)
	err := c.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var hinted *hintedError
	switch {
	case errors.Is(err, context.Canceled):
		err = errors.New("interrupted; nothing was left behind")
	case hint != nil && !errors.As(err, &hinted):
		err = hint(err)
	}
	fmt.Fprintf(errOut, "error: %v\n", err)
	var u UsageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitError
}

// warnTo sends pflag's warnings (a deprecated flag was used) to errOut in
// c and its subcommands. cobra prints them to the command's output, which
// is standard output here: they would corrupt -o json.
func warnTo(c *cobra.Command, errOut io.Writer) {
	c.Flags().SetOutput(errOut)
	for _, sub := range c.Commands() {
		warnTo(sub, errOut)
	}
}
