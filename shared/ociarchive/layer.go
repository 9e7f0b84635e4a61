package ociarchive

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Compression of a layer blob.
type Compression string

const (
	Uncompressed Compression = "none"
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
)

// ParseCompression accepts "none", "gzip" or "zstd".
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case Uncompressed, Gzip, Zstd:
		return c, nil
	}
	return "", fmt.Errorf("unknown layer compression %q: use none, gzip or zstd", s)
}

func (c Compression) mediaType() string {
	switch c {
	case Gzip:
		return imgspecv1.MediaTypeImageLayerGzip
	case Zstd:
		return imgspecv1.MediaTypeImageLayerZstd
	}
	return imgspecv1.MediaTypeImageLayer
}

// BlobLayer is a layer blob stored in a local file, ready to be pushed.
type BlobLayer struct {
	Path        string
	MediaType   string
	Digest      digest.Digest // of the blob
	DiffID      digest.Digest // of the uncompressed tar
	Size        int64
	Annotations map[string]string
}

// LayerFile writes a tar stream into a temp file through a compressor,
// computing the blob digest and the diff ID on the way.
type LayerFile struct {
	f      *os.File
	buf    *bufio.Writer
	blob   digest.Digester
	diff   digest.Digester
	n      countingWriter
	comp   io.WriteCloser // nil when uncompressed
	w      io.Writer      // what Write feeds
	layer  BlobLayer
	closed bool
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// NewLayerFile creates a layer file in dir.
func NewLayerFile(dir string, c Compression) (*LayerFile, error) {
	f, err := os.CreateTemp(dir, "layer-*.tar")
	if err != nil {
		return nil, fmt.Errorf("create layer file: %w", err)
	}
	l := &LayerFile{f: f, blob: digest.Canonical.Digester(), diff: digest.Canonical.Digester()}
	l.buf = bufio.NewWriterSize(f, 256<<10)
	l.n.w = io.MultiWriter(l.buf, l.blob.Hash())
	switch c {
	case Gzip:
		l.comp, err = gzip.NewWriterLevel(&l.n, gzip.DefaultCompression)
	case Zstd:
		l.comp, err = zstd.NewWriter(&l.n)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("layer compressor: %w", err)
	}
	// An uncompressed blob is its own diff: hash it once.
	l.w = &l.n
	if l.comp != nil {
		l.w = io.MultiWriter(l.comp, l.diff.Hash())
	}
	l.layer = BlobLayer{Path: f.Name(), MediaType: c.mediaType()}
	return l, nil
}

func (l *LayerFile) Write(p []byte) (int, error) { return l.w.Write(p) }

// Finish flushes the layer and returns its description. The file stays on
// disk until Remove.
func (l *LayerFile) Finish() (BlobLayer, error) {
	if l.closed {
		return l.layer, nil
	}
	l.closed = true
	if l.comp != nil {
		if err := l.comp.Close(); err != nil {
			return BlobLayer{}, fmt.Errorf("compress layer: %w", err)
		}
	}
	if err := l.buf.Flush(); err != nil {
		return BlobLayer{}, fmt.Errorf("write layer: %w", err)
	}
	if err := l.f.Close(); err != nil {
		return BlobLayer{}, fmt.Errorf("write layer: %w", err)
	}
	l.layer.Digest, l.layer.DiffID, l.layer.Size = l.blob.Digest(), l.blob.Digest(), l.n.n
	if l.comp != nil {
		l.layer.DiffID = l.diff.Digest()
	}
	return l.layer, nil
}

// Remove deletes the layer file.
func (l *LayerFile) Remove() error {
	if !l.closed {
		l.closed = true
		l.f.Close()
	}
	return os.Remove(l.f.Name())
}
