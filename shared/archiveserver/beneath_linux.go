//go:build linux

package archiveserver

import (
	"errors"
	"io"
	"io/fs"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// beneath looks names up below the root with one openat2(2) call each
// (RESOLVE_BENEATH: no absolute paths or symlinks, nothing that leaves the
// directory, no /proc magic links), the rules os.Root enforces by opening
// every path component in turn. An install fetches tens of thousands of
// objects two directories deep, and os.Root's walk was about half of the
// server's system calls per request (see make loadtest).
type beneath struct {
	fd int
}

const resolveBeneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// openBeneath opens dir for lookups, or returns nil when the kernel (before
// 5.6) or a seccomp profile does not allow openat2: the caller then uses
// os.Root.
func openBeneath(dir string) (*beneath, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	b := &beneath{fd: fd}
	probe, err := b.openat2(".", unix.O_PATH)
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
			return nil, nil
		}
		return nil, &fs.PathError{Op: "openat2", Path: dir, Err: err}
	}
	unix.Close(probe)
	return b, nil
}

// open opens name for reading and fstats it. O_NONBLOCK keeps the open of
// a FIFO from waiting for a writer; the caller refuses anything but regular
// files and directories, as nginx does. One openat2 and one fstat: no
// O_PATH probe before it, and no os.File, whose constructor would try (and
// fail) to add a regular file opened non-blocking to the network poller.
func (b *beneath) open(name string) (entry, error) {
	fd, err := b.openat2(name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return entry{}, &fs.PathError{Op: "openat2", Path: name, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return entry{}, &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	e := entry{f: &fdFile{fd: fd}, size: st.Size, mtime: time.Unix(st.Mtim.Unix())}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		e.typ = fs.ModeDir
	default:
		e.typ = fs.ModeIrregular
	}
	return e, nil
}

func (b *beneath) openat2(name string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveBeneath}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(b.fd, name, &how)
		// EAGAIN: a rename raced with a ".." in a symlink; the kernel
		// asks to retry rather than guess.
		if (err == unix.EINTR || err == unix.EAGAIN) && tries < 3 {
			continue
		}
		return fd, err
	}
}

func (b *beneath) close() error {
	return unix.Close(b.fd)
}

// fdFile is a file opened by beneath.open. Regular files ignore O_NONBLOCK,
// so plain read(2) calls do; SyscallConn lets net/http send the file with
// sendfile(2) as it would an *os.File.
type fdFile struct {
	fd int
}

func (f *fdFile) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(f.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Err: err}
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f *fdFile) Seek(offset int64, whence int) (int64, error) {
	off, err := unix.Seek(f.fd, offset, whence)
	if err != nil {
		return 0, &fs.PathError{Op: "seek", Err: err}
	}
	return off, nil
}

func (f *fdFile) Close() error { return unix.Close(f.fd) }

func (f *fdFile) SyscallConn() (syscall.RawConn, error) { return rawFile(f.fd), nil }

// rawFile is the syscall.RawConn of a blocking descriptor: the callbacks
// run once, as nothing ever has to wait for readiness.
type rawFile int

func (r rawFile) Control(fn func(fd uintptr)) error { fn(uintptr(r)); return nil }
func (r rawFile) Read(fn func(fd uintptr) bool) error {
	fn(uintptr(r))
	return nil
}
func (r rawFile) Write(fn func(fd uintptr) bool) error {
	fn(uintptr(r))
	return nil
}
