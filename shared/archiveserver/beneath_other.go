//go:build !linux

package archiveserver

import (
	"errors"
	"io/fs"
	"os"
)

// beneath is Linux's openat2(2) lookup; elsewhere the server uses os.Root.
type beneath struct{}

func openBeneath(string) (*beneath, error) { return nil, nil }

func (*beneath) fileType(string) (fs.FileMode, error) { return 0, errors.ErrUnsupported }
func (*beneath) open(string) (*os.File, error)        { return nil, errors.ErrUnsupported }
func (*beneath) close() error                         { return nil }
