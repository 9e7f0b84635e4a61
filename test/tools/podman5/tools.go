//go:build tools

// Package tools pins the Podman 5 service the podman-ocne tests also run
// against (test/tools/podman5/build.sh builds it).
package tools

import _ "github.com/containers/podman/v5/cmd/podman"
