//go:build tools

// Package tools pins the real programs tests run against.
package tools

import _ "sigs.k8s.io/krew/cmd/krew"
