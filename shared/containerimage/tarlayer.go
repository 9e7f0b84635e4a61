package containerimage

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"
)

// TarLayer builds a layer from directories and files given by absolute
// path, writing each parent directory once (unpackers refuse a layer that
// names a path twice).
type TarLayer struct {
	lf    *LayerFile
	tw    *tar.Writer
	dirs  map[string]bool
	mtime time.Time
}

// NewTarLayer starts a layer in a temp file in dir; every entry gets mtime.
func NewTarLayer(dir string, c Compression, mtime time.Time) (*TarLayer, error) {
	lf, err := NewLayerFile(dir, c)
	if err != nil {
		return nil, err
	}
	return &TarLayer{lf: lf, tw: tar.NewWriter(lf), dirs: map[string]bool{}, mtime: mtime}, nil
}

// Dir adds a directory and its missing parents (0755).
func (t *TarLayer) Dir(p string, mode int64) error {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" || t.dirs[p] {
		return nil
	}
	if err := t.Dir(path.Dir(p), 0o755); err != nil {
		return err
	}
	t.dirs[p] = true
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: mode, ModTime: t.mtime})
}

// File adds a regular file of size bytes read from r, and its parents.
func (t *TarLayer) File(p string, mode, size int64, r io.Reader) error {
	p = strings.Trim(path.Clean("/"+p), "/")
	if err := t.Dir(path.Dir(p), 0o755); err != nil {
		return err
	}
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: size, ModTime: t.mtime}); err != nil {
		return err
	}
	n, err := io.Copy(t.tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("%s: %d bytes, want %d", p, n, size)
	}
	return err
}

// CopyFile adds the regular file src at p.
func (t *TarLayer) CopyFile(p, src string, mode int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
	return t.File(p, mode, fi.Size(), f)
}

// Finish completes the layer. On error the layer file is removed.
func (t *TarLayer) Finish() (BlobLayer, error) {
	err := t.tw.Close()
	var l BlobLayer
	if err == nil {
		l, err = t.lf.Finish()
	}
	if err != nil {
		t.lf.Remove()
	}
	return l, err
}

// Remove abandons the layer and deletes its file.
func (t *TarLayer) Remove() { t.lf.Remove() }
