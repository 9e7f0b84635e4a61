package ociarchive

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"
)

// TarWriter writes a layer's tar stream from directories and files given
// by absolute path, writing each parent directory once (unpackers refuse a
// layer that names a path twice).
type TarWriter struct {
	tw    *tar.Writer
	dirs  map[string]bool
	mtime time.Time
}

// NewTarWriter writes entries to w, every one stamped mtime.
func NewTarWriter(w io.Writer, mtime time.Time) *TarWriter {
	return &TarWriter{tw: tar.NewWriter(w), dirs: map[string]bool{}, mtime: mtime}
}

// Dir adds a directory and its missing parents (0755).
func (t *TarWriter) Dir(p string, mode int64) error {
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
func (t *TarWriter) File(p string, mode, size int64, r io.Reader) error {
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
func (t *TarWriter) CopyFile(p, src string, mode int64) error {
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

// Close ends the tar stream, without closing the writer under it.
func (t *TarWriter) Close() error { return t.tw.Close() }

// TarLayer is a TarWriter into a layer file.
type TarLayer struct {
	*TarWriter
	lf *LayerFile
}

// NewTarLayer starts a layer in a temp file in dir; every entry gets mtime.
func NewTarLayer(dir string, c Compression, mtime time.Time) (*TarLayer, error) {
	lf, err := NewLayerFile(dir, c)
	if err != nil {
		return nil, err
	}
	return &TarLayer{TarWriter: NewTarWriter(lf, mtime), lf: lf}, nil
}

// Finish completes the layer. On error the layer file is removed.
func (t *TarLayer) Finish() (BlobLayer, error) {
	err := t.Close()
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
