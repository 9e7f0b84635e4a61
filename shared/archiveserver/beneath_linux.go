//go:build linux

package archiveserver

import (
	"errors"
	"io/fs"
	"os"

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

// fileType returns the type bits of what name resolves to, without opening
// it for reading (a FIFO would block, a device could act on open).
func (b *beneath) fileType(name string) (fs.FileMode, error) {
	fd, err := b.openat2(name, unix.O_PATH)
	if err != nil {
		return 0, &fs.PathError{Op: "openat2", Path: name, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0, nil
	case unix.S_IFDIR:
		return fs.ModeDir, nil
	}
	return fs.ModeIrregular, nil
}

// open opens name for reading. os.NewFile, unlike os.Open, does not try
// (and fail) to add a regular file to the network poller, which costs
// five more system calls.
func (b *beneath) open(name string) (*os.File, error) {
	fd, err := b.openat2(name, unix.O_RDONLY|unix.O_NOCTTY)
	if err != nil {
		return nil, &fs.PathError{Op: "openat2", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
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
