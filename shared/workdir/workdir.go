// Package workdir makes scratch directories that do not outlive their
// process, not even one killed with SIGKILL or by a power cut: each holds
// a lock for as long as its process lives, and the next run removes the
// directories whose lock is free.
package workdir

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const lockName = ".lock"

// Dir is a scratch directory owned by this process.
type Dir struct {
	Path string
	lock *os.File
}

// Create makes a directory named prefix* in parent, after removing the
// prefix* directories that earlier processes left behind.
func Create(parent, prefix string) (*Dir, error) {
	sweep(parent, prefix)
	path, err := os.MkdirTemp(parent, prefix)
	if err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(path, lockName), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(path)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Dir{Path: path, lock: lock}, nil
}

// Remove deletes the directory and releases it.
func (d *Dir) Remove() error {
	err := os.RemoveAll(d.Path)
	d.lock.Close()
	return err
}

// sweep removes the prefix* directories in parent whose lock no live
// process holds. A directory without a lock file is left alone: it is not
// ours, or its creator is between MkdirTemp and taking the lock.
func sweep(parent, prefix string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, prefix+"*"))
	for _, dir := range dirs {
		f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		// Held: its process lives. Any other error (no locks on this
		// filesystem): remove nothing.
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(dir)
		}
		f.Close()
	}
}
