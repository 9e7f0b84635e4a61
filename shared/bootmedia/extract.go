// Package bootmedia turns an Oracle Linux boot ISO into network boot media
// for the OCK installer: the PXE kernel, initrd and the installer's stage2
// image, laid out as on the ISO so that one HTTP directory serves them all,
// plus the kernel arguments and an iPXE script that boot them.
package bootmedia

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/kdomanski/iso9660"
)

// Paths on the ISO, and under the extraction directory.
const (
	KernelPath = "images/pxeboot/vmlinuz"
	InitrdPath = "images/pxeboot/initrd.img"
	// Stage2Path is Anaconda's root filesystem: inst.stage2=<dir URL>
	// fetches <dir URL>/images/install.img when there is no .treeinfo.
	Stage2Path = "images/install.img"
)

// PXEFiles are the extracted files.
type PXEFiles struct {
	Kernel string // DIR/images/pxeboot/vmlinuz
	Initrd string // DIR/images/pxeboot/initrd.img
	Stage2 string // DIR/images/install.img
}

// ExtractPXE copies the kernel, initrd and stage2 image out of the boot ISO
// at isoPath into destDir, keeping their paths on the ISO. Each file is
// written under a temporary name and renamed only once all are complete,
// so a failure or cancellation leaves no partial file behind.
func ExtractPXE(ctx context.Context, isoPath, destDir string) (PXEFiles, error) {
	f, err := os.Open(isoPath)
	if err != nil {
		return PXEFiles{}, fmt.Errorf("open boot ISO: %w", err)
	}
	defer f.Close()
	img, err := iso9660.OpenImage(f)
	if err != nil {
		return PXEFiles{}, fmt.Errorf("%s is not an ISO-9660 image (%v): pass an Oracle Linux boot ISO", isoPath, err)
	}
	root, err := img.RootDir()
	if err != nil {
		return PXEFiles{}, fmt.Errorf("%s has no primary volume: pass an Oracle Linux boot ISO", isoPath)
	}
	if err := checkSize(f); err != nil {
		return PXEFiles{}, fmt.Errorf("%s: %w", isoPath, err)
	}
	paths := []string{KernelPath, InitrdPath, Stage2Path}
	var entries []*iso9660.File
	var missing []string
	for _, p := range paths {
		e, err := lookup(root, p)
		if err != nil {
			return PXEFiles{}, fmt.Errorf("read %s in %s: %w", p, isoPath, err)
		}
		if e == nil {
			missing = append(missing, p)
		}
		entries = append(entries, e)
	}
	if len(missing) > 0 {
		return PXEFiles{}, fmt.Errorf("%s has no %s: it is not an Oracle Linux boot ISO (use the UEK boot ISO, which has them)", isoPath, strings.Join(missing, " or "))
	}

	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	for i, p := range paths {
		t, err := extract(ctx, entries[i], filepath.Join(destDir, filepath.FromSlash(p)))
		if t != "" {
			temps = append(temps, t)
		}
		if err != nil {
			return PXEFiles{}, fmt.Errorf("extract %s from %s: %w", p, isoPath, err)
		}
	}
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Join(destDir, filepath.FromSlash(p))
		if err := os.Rename(temps[i], out[i]); err != nil {
			return PXEFiles{}, fmt.Errorf("extract %s from %s: %w", p, isoPath, err)
		}
	}
	temps = nil
	return PXEFiles{Kernel: out[0], Initrd: out[1], Stage2: out[2]}, nil
}

// lookup finds a file by its slash path, or returns nil. Names compare
// without case, because an ISO without Rock Ridge or whose Rock Ridge
// entries are missing shows its ISO-9660 names (VMLINUZ, INITRD.IMG).
func lookup(dir *iso9660.File, p string) (*iso9660.File, error) {
	parts := strings.Split(p, "/")
	for i, name := range parts {
		// GetChildren panics on a directory it cannot read; a truncated
		// image is refused before this by checkSize.
		children, err := dir.GetAllChildren()
		if err != nil {
			return nil, err
		}
		var next *iso9660.File
		for _, c := range children {
			if strings.EqualFold(c.Name(), name) {
				next = c
				break
			}
		}
		last := i == len(parts)-1
		if next == nil || next.IsDir() == last {
			return nil, nil
		}
		dir = next
	}
	return dir, nil
}

// checkSize compares the file with the volume size its primary volume
// descriptor records (sector 16, bytes 80-83, little-endian, in 2 KiB
// blocks), so that a truncated download is named as such.
func checkSize(f *os.File) error {
	var b [84]byte
	if _, err := f.ReadAt(b[:], 16*2048); err != nil {
		return fmt.Errorf("read the volume size: %w", err)
	}
	if b[0] != 1 { // not the primary descriptor: no size to compare with
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if want := int64(binary.LittleEndian.Uint32(b[80:])) * 2048; fi.Size() < want {
		return fmt.Errorf("ISO truncated (%d of %d bytes): copy or download it again", fi.Size(), want)
	}
	return nil
}

// extract writes e to a temporary file beside dest and returns its name.
func extract(ctx context.Context, e *iso9660.File, dest string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", err
	}
	t, err := os.CreateTemp(filepath.Dir(dest), "."+path.Base(filepath.ToSlash(dest))+"-*")
	if err != nil {
		return "", err
	}
	n, err := io.Copy(t, ctxReader{ctx, e.Reader()})
	if err == nil && n != e.Size() {
		err = fmt.Errorf("ISO truncated (%d of %d bytes): copy or download it again", n, e.Size())
	}
	if err == nil {
		err = t.Chmod(0o644)
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	return t.Name(), err
}

// ctxReader stops a copy when the context is cancelled (Ctrl-C).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
