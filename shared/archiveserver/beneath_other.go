//go:build !linux

package archiveserver

import "errors"

// beneath is Linux's openat2(2) lookup; elsewhere the server uses os.Root.
type beneath struct{}

func openBeneath(string) (*beneath, error) { return nil, nil }

func (*beneath) open(string) (entry, error) { return entry{}, errors.ErrUnsupported }
func (*beneath) close() error               { return nil }
