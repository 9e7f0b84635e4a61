//go:build !linux

package archiveserver

import "syscall"

// setCork is Linux's TCP_CORK; elsewhere a large response's header and
// body may leave in separate segments.
func setCork(syscall.RawConn, bool) {}
