package archiverepo

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// tempFile is an object being written under a dot-prefixed name, published
// under its final name by a rename once it has been verified. It uses raw
// system calls: writing an object is a handful of them, and an os.File
// (poller registration, stat before rename) would double that.
type tempFile struct {
	fd   int
	path string
}

// createTemp makes a new temp file in dir, readable by all: the archive is
// served by a web server that need not run as the user who wrote it.
func (r *Repo) createTemp(dir string) (*tempFile, error) {
	path := filepath.Join(dir, r.tmpPrefix+strconv.FormatUint(r.tmpSeq.Add(1), 36))
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	return &tempFile{fd: fd, path: path}, nil
}

func (t *tempFile) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := unix.Write(t.fd, p[written:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return written, &os.PathError{Op: "write", Path: t.path, Err: err}
		}
		if n == 0 {
			return written, io.ErrShortWrite
		}
		written += n
	}
	return written, nil
}

// publish closes the file and renames it to final.
func (t *tempFile) publish(final string) error {
	if err := unix.Close(t.fd); err != nil {
		unix.Unlink(t.path)
		return &os.PathError{Op: "close", Path: t.path, Err: err}
	}
	t.fd = -1
	if err := unix.Rename(t.path, final); err != nil {
		unix.Unlink(t.path)
		return &os.LinkError{Op: "rename", Old: t.path, New: final, Err: err}
	}
	return nil
}

// discard closes and removes the file, if publish has not.
func (t *tempFile) discard() {
	if t.fd >= 0 {
		unix.Close(t.fd)
		unix.Unlink(t.path)
		t.fd = -1
	}
}

// writeFile writes data to path through a temp file in the same directory.
func (r *Repo) writeFile(path string, data []byte) error {
	f, err := r.createTemp(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer f.discard()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.publish(path)
}

func tempPrefix() string { return fmt.Sprintf(".tmp-%d-", os.Getpid()) }
