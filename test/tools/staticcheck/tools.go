//go:build tools

// Package tools pins the staticcheck `make lint` builds.
package tools

import _ "honnef.co/go/tools/cmd/staticcheck"
