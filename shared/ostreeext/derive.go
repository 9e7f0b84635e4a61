package ostreeext

import (
	"archive/tar"
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostreeext/tarstream"
)

// Derived layers are ordinary image layers (what `podman build` adds on top
// of an OCK image) after the ostree layers. An archive serves commits, not
// layers, so a Merger turns them into a new commit the way ostree-ext's
// container store does: the derived files laid over the base commit's tree
// as the OCI image spec's layer rules say, /etc stored as usr/etc, the base
// commit as parent.
//
// What a commit cannot hold is left out and counted (Filtered), as
// ostree-ext leaves it out: everything outside /usr and /etc (a deployment's
// /var, /run, /tmp ... are not part of the commit).
//
// SELinux labels: container layers do not carry security.selinux reliably
// (podman build does not write it; ostree-ext's own PAX records never hold
// it), and ostree-ext relabels the merged tree with the image's policy,
// which needs libselinux. Instead an entry keeps a label it carries; else
// it takes the label of the entry it replaces (so a changed file keeps the
// base commit's label); else that of its parent directory, which is how the
// kernel labels a file created in that directory. Base files the layers do
// not touch keep theirs. Other xattrs are those the entry carries as PAX
// SCHILY.xattr records.

const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
	selinuxXattr   = "security.selinux"
)

// Merger lays derived layers over a base commit in a Store.
type Merger struct {
	repo     tarstream.Store
	base     ostree.Checksum
	root     *mdir
	filtered map[string]int
	// made holds the paths the current layer wrote: an opaque whiteout
	// hides only what the layers below it have.
	made    map[string]bool
	sysroot sysrootFiles
	objects int
}

// mdir is a directory of the merged tree. Directories the layers do not
// touch are never read: they keep their dirtree and dirmeta objects.
type mdir struct {
	tree, meta ostree.Checksum // the stored objects, stale once dirty
	loaded     bool
	dirty      bool
	dm         *ostree.DirMeta
	files      map[string]ostree.Checksum
	dirs       map[string]*mdir
}

// NewMerger starts from base, which must be complete in repo.
func NewMerger(repo tarstream.Store, base ostree.Checksum) (*Merger, error) {
	b, err := repo.ReadMetadata(ostree.ObjCommit, base)
	if err != nil {
		return nil, err
	}
	c, err := ostree.ParseCommit(b)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", base, err)
	}
	return &Merger{
		repo: repo, base: base, filtered: map[string]int{},
		root: &mdir{tree: c.RootTree, meta: c.RootMeta},
	}, nil
}

// Objects returns how many objects the merge has written.
func (m *Merger) Objects() int { return m.objects }

// Filtered returns, by top-level directory, how many entries of the layers
// were left out because a commit does not hold them.
func (m *Merger) Filtered() map[string]int { return maps.Clone(m.filtered) }

// ApplyLayer lays one uncompressed layer tar stream over the tree.
func (m *Merger) ApplyLayer(ctx context.Context, r io.Reader) error {
	m.made = map[string]bool{}
	m.sysroot = sysrootFiles{spooled: map[string]spooled{}, linked: map[string]ostree.Checksum{}}
	defer m.sysroot.release(m.filtered)
	return tarstream.EachEntry(ctx, r, func(tr *tar.Reader, hdr *tar.Header, _ string) error {
		if err := m.apply(tr, hdr); err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
		return nil
	})
}

// treePath maps a layer path to its path in the commit ("" for the root).
// For what a commit does not hold it returns the top-level directory it is
// in as filtered instead.
func treePath(name string) (p, filtered string, err error) {
	name, err = tarstream.CleanName(name)
	if err != nil {
		return "", "", err
	}
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	first, rest, _ := strings.Cut(name, "/")
	switch first {
	case "", "usr":
		return name, "", nil
	case "etc":
		return strings.TrimSuffix("usr/etc/"+rest, "/"), "", nil
	}
	return "", first, nil
}

func (m *Merger) apply(tr *tar.Reader, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	p, filtered, err := treePath(hdr.Name)
	if err != nil {
		return err
	}
	if filtered != "" {
		return m.filter(filtered, tr, hdr)
	}
	if p == "" {
		return nil // the root directory keeps the base commit's metadata
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasPrefix(base, whiteoutPrefix) {
		return m.whiteout(dir, base)
	}
	parent, err := m.changeDir(dir, true)
	if err != nil {
		return err
	}
	m.made[p] = true
	switch hdr.Typeflag {
	case tar.TypeDir:
		return m.setDir(parent, base, hdr)
	case tar.TypeReg:
		return m.setFile(parent, base, hdr, ostree.ModeRegular|uint32(hdr.Mode)&0o7777, tr)
	case tar.TypeSymlink:
		// libostree stores every symlink as 0777, whatever the tar says.
		return m.setFile(parent, base, hdr, ostree.ModeSymlink|0o777, strings.NewReader(""))
	case tar.TypeLink:
		sum, err := m.linkTarget(parent, base, hdr.Linkname)
		if err != nil {
			return err
		}
		delete(parent.dirs, base)
		parent.files[base] = sum
		return nil
	}
	return fmt.Errorf("%s: an OSTree commit holds only files, symlinks and directories; remove it in the Containerfile", entryKind(hdr.Typeflag))
}

func entryKind(t byte) string {
	switch t {
	case tar.TypeChar:
		return "a character device"
	case tar.TypeBlock:
		return "a block device"
	case tar.TypeFifo:
		return "a FIFO"
	}
	return fmt.Sprintf("an entry of tar type %q", t)
}

// whiteout deletes name (".wh.NAME") or, for the opaque marker, everything
// the layers below have in dir.
func (m *Merger) whiteout(dir, name string) error {
	d, err := m.changeDir(dir, false)
	if d == nil || err != nil {
		return err // nothing there to hide
	}
	if name != opaqueWhiteout {
		name = strings.TrimPrefix(name, whiteoutPrefix)
		delete(d.files, name)
		delete(d.dirs, name)
		return nil
	}
	for n := range d.files {
		if !m.made[path.Join(dir, n)] {
			delete(d.files, n)
		}
	}
	for n := range d.dirs {
		if !m.made[path.Join(dir, n)] {
			delete(d.dirs, n)
		}
	}
	return nil
}

// changeDir returns the directory at p, marked as changed with all its
// parents; nil if it does not exist and create is false. With create, a
// missing directory is made with its parent's owner, mode and xattrs (tar
// writers list parents first; this is for those that do not).
func (m *Merger) changeDir(p string, create bool) (*mdir, error) {
	d := m.root
	if err := m.load(d); err != nil {
		return nil, err
	}
	chain := []*mdir{d}
	if p != "" {
		for _, name := range strings.Split(p, "/") {
			child, ok := d.dirs[name]
			if !ok && !create {
				return nil, nil
			}
			if !ok {
				dm := *d.dm
				child = &mdir{loaded: true, dm: &dm, files: map[string]ostree.Checksum{}, dirs: map[string]*mdir{}}
				delete(d.files, name)
				d.dirs[name] = child
			}
			if err := m.load(child); err != nil {
				return nil, err
			}
			chain = append(chain, child)
			d = child
		}
	}
	for _, c := range chain {
		c.dirty = true
	}
	return d, nil
}

func (m *Merger) load(d *mdir) error {
	if d.loaded {
		return nil
	}
	mb, err := m.repo.ReadMetadata(ostree.ObjDirMeta, d.meta)
	if err != nil {
		return err
	}
	if d.dm, err = ostree.ParseDirMeta(mb); err != nil {
		return fmt.Errorf("dirmeta %s: %w", d.meta, err)
	}
	tb, err := m.repo.ReadMetadata(ostree.ObjDirTree, d.tree)
	if err != nil {
		return err
	}
	t, err := ostree.ParseDirTree(tb)
	if err != nil {
		return fmt.Errorf("dirtree %s: %w", d.tree, err)
	}
	d.files = make(map[string]ostree.Checksum, len(t.Files))
	for _, f := range t.Files {
		d.files[f.Name] = f.Checksum
	}
	d.dirs = make(map[string]*mdir, len(t.Dirs))
	for _, s := range t.Dirs {
		d.dirs[s.Name] = &mdir{tree: s.Tree, meta: s.Meta}
	}
	d.loaded = true
	return nil
}

// lookupFile finds the content object of the file at p, without marking
// anything as changed.
func (m *Merger) lookupFile(p string) (ostree.Checksum, bool) {
	dir, base := path.Split(p)
	d := m.root
	for _, name := range strings.Split(strings.TrimSuffix(dir, "/"), "/") {
		if m.load(d) != nil {
			return ostree.Checksum{}, false
		}
		if name == "" {
			continue
		}
		if d = d.dirs[name]; d == nil {
			return ostree.Checksum{}, false
		}
	}
	if m.load(d) != nil {
		return ostree.Checksum{}, false
	}
	sum, ok := d.files[base]
	return sum, ok
}

// xattrs returns an entry's xattrs with its SELinux label chosen as the
// package comment says; replaced are those of the entry it replaces.
func (m *Merger) xattrs(hdr *tar.Header, replaced ostree.Xattrs, parent *mdir) ostree.Xattrs {
	x := tarstream.PAXXattrs(hdr)
	if _, ok := x.Get(selinuxXattr); ok {
		return x
	}
	label, ok := replaced.Get(selinuxXattr)
	if !ok {
		label, ok = parent.dm.Xattrs.Get(selinuxXattr)
	}
	if !ok {
		return x
	}
	return append(x, ostree.Xattr{Name: selinuxXattr, Value: label}).Sorted()
}

// replacedXattrs returns the xattrs of what parent holds as name, if anything.
func (m *Merger) replacedXattrs(parent *mdir, name string) (ostree.Xattrs, error) {
	if d, ok := parent.dirs[name]; ok {
		if err := m.load(d); err != nil {
			return nil, err
		}
		return d.dm.Xattrs, nil
	}
	sum, ok := parent.files[name]
	if !ok {
		return nil, nil
	}
	h, err := m.repo.ContentHeader(sum)
	if err != nil {
		return nil, err
	}
	return h.Xattrs, nil
}

func (m *Merger) setFile(parent *mdir, name string, hdr *tar.Header, mode uint32, content io.Reader) error {
	sum, err := m.addFile(parent, name, hdr, mode, content)
	if err != nil {
		return err
	}
	delete(parent.dirs, name)
	parent.files[name] = sum
	return nil
}

// addFile writes the content object for an entry that is to become name
// in parent.
func (m *Merger) addFile(parent *mdir, name string, hdr *tar.Header, mode uint32, content io.Reader) (ostree.Checksum, error) {
	replaced, err := m.replacedXattrs(parent, name)
	if err != nil {
		return ostree.Checksum{}, err
	}
	h := &ostree.FileHeader{UID: uint32(hdr.Uid), GID: uint32(hdr.Gid), Mode: mode, Xattrs: m.xattrs(hdr, replaced, parent)}
	size := hdr.Size
	if h.IsSymlink() {
		h.SymlinkTarget, size = hdr.Linkname, 0
	}
	sum, err := m.repo.AddContent(h, size, content)
	if err == nil {
		m.objects++
	}
	return sum, err
}

// setDir makes name a directory with the entry's metadata; a directory
// already there keeps its contents, as in an overlay.
func (m *Merger) setDir(parent *mdir, name string, hdr *tar.Header) error {
	replaced, err := m.replacedXattrs(parent, name)
	if err != nil {
		return err
	}
	dm := &ostree.DirMeta{UID: uint32(hdr.Uid), GID: uint32(hdr.Gid), Mode: ostree.ModeDir | uint32(hdr.Mode)&0o7777, Xattrs: m.xattrs(hdr, replaced, parent)}
	d, ok := parent.dirs[name]
	if !ok {
		d = &mdir{loaded: true, files: map[string]ostree.Checksum{}, dirs: map[string]*mdir{}}
		delete(parent.files, name)
		parent.dirs[name] = d
	}
	d.dm, d.dirty = dm, true
	return nil
}

// MergedCommit describes the commit Commit writes.
type MergedCommit struct {
	// Ref is the one ref the commit is bound to: the ref it is served as.
	Ref       string
	Subject   string
	Timestamp time.Time
	// Metadata is added to the commit's (ostree.ref-binding is set from Ref).
	Metadata ostree.Metadata
}

// Commit writes the merged tree and a commit of it whose parent is the
// base commit, and returns the commit.
func (m *Merger) Commit(mc MergedCommit) (ostree.Checksum, *ostree.Commit, error) {
	tree, meta, err := m.write(m.root)
	if err != nil {
		return ostree.Checksum{}, nil, err
	}
	md := append(slices.Clone(mc.Metadata), ostree.MetaEntry{Key: ostree.MetaRefBinding, Value: ostree.StringsVariant([]string{mc.Ref})})
	slices.SortFunc(md, func(a, b ostree.MetaEntry) int { return cmp.Compare(a.Key, b.Key) })
	c := &ostree.Commit{
		Metadata: md, Parent: m.base, Subject: mc.Subject,
		Timestamp: uint64(max(mc.Timestamp.Unix(), 0)), RootTree: tree, RootMeta: meta,
	}
	sum, err := m.writeMetadata(ostree.ObjCommit, c.Marshal())
	return sum, c, err
}

// write stores a changed directory's dirtree and dirmeta (children first)
// and returns them.
func (m *Merger) write(d *mdir) (tree, meta ostree.Checksum, err error) {
	if !d.dirty {
		return d.tree, d.meta, nil
	}
	t := &ostree.DirTree{Files: make([]ostree.TreeFile, 0, len(d.files)), Dirs: make([]ostree.TreeDir, 0, len(d.dirs))}
	// libostree sorts both lists by name, bytewise, as Go compares strings.
	for _, name := range slices.Sorted(maps.Keys(d.files)) {
		t.Files = append(t.Files, ostree.TreeFile{Name: name, Checksum: d.files[name]})
	}
	for _, name := range slices.Sorted(maps.Keys(d.dirs)) {
		ct, cm, err := m.write(d.dirs[name])
		if err != nil {
			return tree, meta, err
		}
		t.Dirs = append(t.Dirs, ostree.TreeDir{Name: name, Tree: ct, Meta: cm})
	}
	if tree, err = m.writeMetadata(ostree.ObjDirTree, t.Marshal()); err != nil {
		return tree, meta, err
	}
	meta, err = m.writeMetadata(ostree.ObjDirMeta, d.dm.Marshal())
	return tree, meta, err
}

func (m *Merger) writeMetadata(t ostree.ObjectType, b []byte) (ostree.Checksum, error) {
	sum := ostree.SumBytes(b)
	if m.repo.Has(sum, t) {
		return sum, nil
	}
	m.objects++
	return sum, m.repo.WriteMetadata(t, sum, b)
}
