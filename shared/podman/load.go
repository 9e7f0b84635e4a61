package podman

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/containers/podman/v5/pkg/bindings/images"

	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/progress"
)

// Load streams the image archive at path to the service, which stores it
// under the names the archive carries, and returns those names.
func (c *Client) Load(path string, bar *progress.Bar) ([]string, error) {
	// Refuse anything but an image archive here: the service's own error
	// for it is a paragraph from every transport it tried.
	if _, err := containerimage.ArchiveReference(path); err != nil {
		var choice *containerimage.ImageChoiceError
		if errors.As(err, &choice) {
			return nil, fmt.Errorf("%w: load takes an archive of one image, as create writes it", err)
		}
		return nil, err
	}
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
	// The body is streamed: the file is never read into memory nor copied
	// to a temporary file on this side.
	rep, err := images.Load(c.ctx, &countingReader{r: f, bar: bar})
	if err != nil {
		if c.ctx.Err() != nil {
			return nil, c.ctx.Err()
		}
		return nil, fmt.Errorf("podman could not load %s: %s", path, oneLine(err))
	}
	if len(rep.Names) == 0 {
		return nil, fmt.Errorf("podman loaded %s but reported no image names", path)
	}
	return rep.Names, nil
}

type countingReader struct {
	r   io.Reader
	bar *progress.Bar
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.Add(n)
	return n, err
}
