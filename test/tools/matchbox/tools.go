//go:build tools

// Package tools pins the matchbox server `make test` builds.
package tools

import _ "github.com/poseidon/matchbox/cmd/matchbox"
