package wire

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Client is `create`'s end: it reads a builder pod's status and fetches its
// archive through whatever reaches the pod's Port (a port-forward).
type Client struct {
	URL  string       // the pod's Port, as http://HOST:PORT
	HTTP *http.Client // nil: http.DefaultClient
}

// Status returns what the pod reports now.
func (c Client) Status(ctx context.Context) (Status, error) {
	var st Status
	resp, err := c.get(ctx, PathStatus, "")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET %s: %s", PathStatus, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("GET %s: %w", PathStatus, err)
	}
	return st, nil
}

// Archive copies the archive from offset on into w and returns how many
// bytes it copied, even when it fails half way, so the caller can resume.
func (c Client) Archive(ctx context.Context, offset int64, w io.Writer) (int64, error) {
	var byteRange string
	want := http.StatusOK
	if offset > 0 {
		byteRange, want = "bytes="+strconv.FormatInt(offset, 10)+"-", http.StatusPartialContent
	}
	resp, err := c.get(ctx, PathArchive, byteRange)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return 0, fmt.Errorf("GET %s from %d: %s", PathArchive, offset, resp.Status)
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (c Client) get(ctx context.Context, path, byteRange string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	if err != nil {
		return nil, err
	}
	if byteRange != "" {
		req.Header.Set("Range", byteRange)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(req)
}
