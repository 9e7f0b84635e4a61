package podman

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/blang/semver/v4"
	"github.com/containers/podman/v5/pkg/bindings/images"
	"github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/ocne-image/ocne-image/shared/containerimage"
)

// localLoadSince is the first Podman whose service loads an archive from a
// path on its own host (POST /libpod/local/images/load); older ones answer
// 404.
var localLoadSince = semver.MustParse("5.7.0")

// Load has the service store the image archive at path under the names
// the archive carries, and returns those names. A service on a unix
// socket is on this host (serve's bind mounts assume so too): from Podman
// 5.7 on it reads the file itself, else the file is streamed to it, told
// to bar (which may be nil).
func (c *Client) Load(path string, bar Progress) ([]string, error) {
	if bar == nil {
		bar = noProgress{}
	}
	// Refuse anything but an image archive here: the service's own error
	// for it is a paragraph from every transport it tried.
	if _, err := containerimage.ArchiveReference(path); err != nil {
		var choice *containerimage.ImageChoiceError
		if errors.As(err, &choice) {
			return nil, fmt.Errorf("%w: load takes an archive of one image, as create writes it", err)
		}
		return nil, err
	}
	var rep *types.ImageLoadReport
	var err error
	if c.loadsLocal() {
		rep, err = c.loadLocal(path)
	}
	// 404: the file is not where the service looks (a unix socket
	// forwarded from a VM or into a container): stream it after all.
	if rep == nil && (err == nil || isNotFound(err)) {
		rep, err = c.loadStream(path, bar)
	}
	if err != nil {
		return nil, err
	}
	if len(rep.Names) == 0 {
		return nil, fmt.Errorf("podman loaded %s but reported no image names", path)
	}
	return rep.Names, nil
}

// loadsLocal says whether Load may hand the service a path.
func (c *Client) loadsLocal() bool {
	v, err := semver.ParseTolerant(c.Version)
	return err == nil && v.GTE(localLoadSince) && c.Local()
}

func (c *Client) loadLocal(path string) (*types.ImageLoadReport, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	rep, err := images.LoadLocal(c.ctx, abs)
	if isNotFound(err) {
		return nil, err // for Load to fall back on
	}
	return rep, c.loadError(path, err)
}

// loadStream sends the file as the request body, never reading it into
// memory nor copying it to a temporary file on this side.
func (c *Client) loadStream(path string, bar Progress) (*types.ImageLoadReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	bar.Start(fi.Size())
	rep, err := images.Load(c.ctx, &countingReader{r: f, bar: bar})
	return rep, c.loadError(path, err)
}

// loadError puts a service-side load error in context, on one line.
func (c *Client) loadError(path string, err error) error {
	if err == nil {
		return nil
	}
	if c.ctx.Err() != nil {
		return c.ctx.Err()
	}
	return fmt.Errorf("podman could not load %s: %s", path, oneLine(err))
}

// Progress is told how far a load that streams the file has got.
type Progress interface {
	Start(total int64)
	Add(n int)
}

type noProgress struct{}

func (noProgress) Start(int64) {}
func (noProgress) Add(int)     {}

type countingReader struct {
	r   io.Reader
	bar Progress
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.Add(n)
	return n, err
}
