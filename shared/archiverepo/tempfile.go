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

// tempFile is an object being written where nobody can see it, published
// under its final name once it has been verified.
//
// Where the filesystem supports it, the file is anonymous (O_TMPFILE) and
// publishing links it in: one directory operation instead of a create and
// a rename (which is what dominates writing tens of thousands of small
// objects), and nothing is left behind if the process dies. Elsewhere it is
// a dot-prefixed file that publishing renames.
//
// Raw system calls, because an os.File (poller registration, a stat before
// rename) would double the calls per object.
type tempFile struct {
	fd   int
	path string // "" for an anonymous file
}

// createTemp makes a new temp file in dir, readable by all: the archive is
// served by a web server that need not run as the user who wrote it.
// Objects may be anonymous files; files that publish must replace (refs)
// may not, as a link never replaces.
func (r *Repo) createTemp(dir string, anonymous bool) (*tempFile, error) {
	if anonymous && !r.noTmpfile.Load() {
		fd, err := unix.Open(dir, unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, 0o644)
		if err == nil {
			return &tempFile{fd: fd}, nil
		}
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
			return nil, &os.PathError{Op: "create", Path: dir, Err: err}
		}
		r.noTmpfile.Store(true)
	}
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

// publish gives the file its final name and closes it. An object already
// there is the same object (names are checksums), so that is success.
func (t *tempFile) publish(final string) error {
	if t.path == "" {
		// Linking through /proc needs no privilege, unlike AT_EMPTY_PATH.
		err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(t.fd), unix.AT_FDCWD, final, unix.AT_SYMLINK_FOLLOW)
		unix.Close(t.fd)
		t.fd = -1
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.LinkError{Op: "link", Old: "(anonymous temp file)", New: final, Err: err}
		}
		return nil
	}
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
		if t.path != "" {
			unix.Unlink(t.path)
		}
		t.fd = -1
	}
}

// writeFile writes data to path through a temp file in the same directory;
// an object is never replaced, anything else is.
func (r *Repo) writeFile(path string, data []byte, object bool) error {
	f, err := r.createTemp(filepath.Dir(path), object)
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
