//go:build tools

// Package tools pins real Ignition for the tests: `ignition-validate`
// and the `ignition` binary (its main package is internal/).
package tools

import (
	_ "github.com/coreos/ignition/v2/internal"
	_ "github.com/coreos/ignition/v2/validate"
)
