package ostreeext

import (
	"archive/tar"
	"fmt"
	"io"
	"os"

	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostreeext/tarstream"
)

// A derived layer can name the base image's own OSTree repository: the
// checked-out tree of an ostree-ext image is hard links into
// sysroot/ostree/repo/objects, and a layer that links a file of the tree
// again may write the link as pointing at the object. When a build changed
// that file, the layer carries the new data under the object's name (which
// then no longer matches it) and the tree's names as hard links to it;
// ostree-ext's importer turns the first link into the file. So does a
// Merger: such data is spooled until a link claims it. A link to an object
// the layer left alone is that object.

// sysrootFiles are one layer's regular files under the image's repository.
type sysrootFiles struct {
	spooled map[string]spooled         // by tar path, until a link claims it
	linked  map[string]ostree.Checksum // by tar path, once claimed
	f       *os.File                   // all their data; unlinked, so nothing is left behind
	size    int64
}

type spooled struct {
	hdr *tar.Header
	off int64 // of its data in f
}

// filter leaves out an entry outside /usr and /etc, spooling what may be
// the data of a later hard link.
func (m *Merger) filter(top string, tr *tar.Reader, hdr *tar.Header) error {
	name, _ := tarstream.CleanName(hdr.Name)
	if !tarstream.InObjectStore(name) || hdr.Typeflag != tar.TypeReg {
		m.filtered[top]++
		return nil
	}
	s := &m.sysroot
	if s.f == nil {
		f, err := os.CreateTemp(m.repo.TempDir(), ".sysroot-")
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		os.Remove(f.Name())
		s.f = f
	}
	n, err := io.Copy(io.NewOffsetWriter(s.f, s.size), tr)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.spooled[name] = spooled{hdr: hdr, off: s.size}
	s.size += n
	return nil
}

// release closes the layer's spooled files; those no link claimed were
// left out.
func (s *sysrootFiles) release(filtered map[string]int) {
	if s.f != nil {
		s.f.Close()
	}
	for range s.spooled {
		filtered[tarstream.SysrootDir]++
	}
}

// linkTarget returns the content object a hard link to target stands for,
// when it is to become name in parent.
func (m *Merger) linkTarget(parent *mdir, name, target string) (ostree.Checksum, error) {
	p, filtered, err := treePath(target)
	if err != nil {
		return ostree.Checksum{}, err
	}
	if filtered == "" {
		if sum, ok := m.lookupFile(p); ok {
			return sum, nil
		}
	}
	clean, _ := tarstream.CleanName(target)
	if sum, ok := m.sysroot.linked[clean]; ok {
		return sum, nil
	}
	if sp, ok := m.sysroot.spooled[clean]; ok {
		delete(m.sysroot.spooled, clean)
		data := io.NewSectionReader(m.sysroot.f, sp.off, sp.hdr.Size)
		sum, err := m.addFile(parent, name, sp.hdr, ostree.ModeRegular|uint32(sp.hdr.Mode)&0o7777, data)
		if err == nil {
			m.sysroot.linked[clean] = sum
		}
		return sum, err
	}
	if sum, ok := tarstream.ContentObject(clean); ok && m.repo.Has(sum, ostree.ObjFileZ) {
		return sum, nil
	}
	return ostree.Checksum{}, fmt.Errorf("hard link to %q, which is not a file of the merged tree (only /usr and /etc are)", target)
}
