package archiveserver

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// setCork sets or clears TCP_CORK on the connection: while set, the kernel
// holds partial segments, so a response header written on its own and the
// file that sendfile(2) appends leave together, as with nginx's
// "tcp_nopush on". Errors are ignored: a closed connection fails the write
// anyway, and without the option the response is only split.
func setCork(c syscall.RawConn, on bool) {
	v := 0
	if on {
		v = 1
	}
	c.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK, v)
	})
}
