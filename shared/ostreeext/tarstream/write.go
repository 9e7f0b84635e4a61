package tarstream

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/ostree"
)

// XattrStyle is how an exported layer records a content object's xattrs;
// writers of different eras differ, and the importer accepts them all.
type XattrStyle string

const (
	// XattrsHardLink: a .file-xattrs object plus a .file-xattrs-link hard
	// link to it (ostree-rs-ext format 1). v0 exports always use
	// xattrs/<sha256> with a .file.xattrs hard link.
	XattrsHardLink XattrStyle = "hardlink"
	// XattrsLinkFile: .file-xattrs-link is a regular file holding the
	// xattrs, and the object also carries PAX SCHILY.xattr records (bootc).
	XattrsLinkFile XattrStyle = "file"
	// XattrsPAX: PAX SCHILY.xattr records only.
	XattrsPAX XattrStyle = "pax"
)

// checkoutPath maps a commit path to where ostree-ext puts it in the
// container filesystem: /usr/etc is presented as /etc.
func checkoutPath(p string) string {
	p = strings.TrimPrefix(p, "/")
	if p == "usr/etc" || strings.HasPrefix(p, "usr/etc/") {
		return strings.TrimPrefix(p, "usr/")
	}
	return p
}

// Writer writes one layer of an export: the commit layer (CommitLayer) or
// a chunk layer (ChunkLayer), then the content objects it holds.
type Writer struct {
	tw     *tar.Writer
	repo   *archiverepo.Repo
	opts   WriterOptions
	mtime  time.Time
	dirs   map[string]bool
	xattrs map[ostree.Checksum]bool
}

// WriterOptions say which layout a Writer writes.
type WriterOptions struct {
	// V0 writes the pre-2022 "format 0" layout instead of format 1.
	V0     bool
	Xattrs XattrStyle // "" is XattrsHardLink
	// DotSlash writes every name as "./name", as tar writers that do not
	// strip the prefix do.
	DotSlash bool
	MTime    time.Time // of every entry: the commit's timestamp
}

// Dir is a directory of the commit: its path, dirtree and dirmeta.
type Dir struct {
	Path       string
	Tree, Meta ostree.Checksum
}

// NewWriter writes a layer of repo's objects to w.
func NewWriter(w io.Writer, repo *archiverepo.Repo, opts WriterOptions) *Writer {
	if opts.Xattrs == "" {
		opts.Xattrs = XattrsHardLink
	}
	return &Writer{tw: tar.NewWriter(w), repo: repo, opts: opts, mtime: opts.MTime.UTC(),
		dirs: map[string]bool{}, xattrs: map[ostree.Checksum]bool{}}
}

// CommitLayer writes what the commit layer holds besides content: the
// root, the repository's directories and config, the commit and every
// directory of it (dirs, in walk order).
func (w *Writer) CommitLayer(commit ostree.Checksum, c *ostree.Commit, dirs []Dir) error {
	if err := w.skeleton(c.RootMeta, true); err != nil {
		return err
	}
	return w.structure(commit, dirs)
}

// ChunkLayer writes what a chunk layer holds besides content: the
// repository's directories.
func (w *Writer) ChunkLayer() error { return w.skeleton(ostree.Checksum{}, false) }

// Close ends the tar stream, without closing the writer under it.
func (w *Writer) Close() error { return w.tw.Close() }

func (w *Writer) name(n string) string {
	if w.opts.DotSlash {
		return "./" + n
	}
	return n
}

func (w *Writer) header(h *tar.Header) error {
	h.Name = w.name(h.Name)
	if h.Typeflag == tar.TypeLink {
		h.Linkname = w.name(h.Linkname)
	}
	h.ModTime = w.mtime
	if h.Format == tar.FormatUnknown {
		// GNU long-name records, as ostree-rs-ext's tar crate writes them.
		h.Format = tar.FormatGNU
	}
	return w.tw.WriteHeader(h)
}

func (w *Writer) dir(p string, mode int64, uid, gid int) error {
	if p == "" || w.dirs[p] {
		return nil
	}
	w.dirs[p] = true
	return w.header(&tar.Header{Typeflag: tar.TypeDir, Name: p, Mode: mode, Uid: uid, Gid: gid})
}

func (w *Writer) data(p string, b []byte) error {
	if err := w.header(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o644, Size: int64(len(b))}); err != nil {
		return err
	}
	_, err := w.tw.Write(b)
	return err
}

func (w *Writer) link(p, target string) error {
	return w.header(&tar.Header{Typeflag: tar.TypeLink, Name: p, Linkname: target})
}

// skeleton writes the repository's directories; the commit layer starts
// with the root directory and also gets the repository config.
func (w *Writer) skeleton(rootMeta ostree.Checksum, commitLayer bool) error {
	if commitLayer {
		m, err := readDirMeta(w.repo, rootMeta)
		if err != nil {
			return err
		}
		// The root is the one name tar writers keep as "./".
		if err := w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: w.mode(m.Mode), Uid: int(m.UID), Gid: int(m.GID), ModTime: w.mtime, Format: tar.FormatGNU}); err != nil {
			return err
		}
	}
	for _, d := range []string{"sysroot", "sysroot/ostree", "sysroot/ostree/repo", "sysroot/ostree/repo/objects"} {
		if err := w.dir(d, 0o755, 0, 0); err != nil {
			return err
		}
	}
	for i := 0; i < 256; i++ {
		if err := w.dir(fmt.Sprintf("%s%02x", objectsPrefix, i), 0o755, 0, 0); err != nil {
			return err
		}
	}
	for _, d := range []string{"extensions", "refs", "refs/heads", "refs/mirrors", "refs/remotes", "state", "tmp", "tmp/cache"} {
		if err := w.dir(repoPrefix+d, 0o755, 0, 0); err != nil {
			return err
		}
	}
	if !commitLayer {
		return nil
	}
	if w.opts.V0 {
		if err := w.dir(strings.TrimSuffix(v0XattrsDir, "/"), 0o755, 0, 0); err != nil {
			return err
		}
		return w.data("sysroot/config", []byte("[core]\nrepo_version=1\nmode=bare-user\n"))
	}
	return w.data(repoPrefix+"config", []byte("[core]\nrepo_version=1\nmode=bare-split-xattrs\n"))
}

// mode filters a stored mode for a tar header: format 1 drops the type bits.
func (w *Writer) mode(m uint32) int64 {
	if w.opts.V0 {
		return int64(m)
	}
	return int64(m & 0o7777)
}

func readDirMeta(repo *archiverepo.Repo, sum ostree.Checksum) (*ostree.DirMeta, error) {
	b, err := repo.ReadMetadata(ostree.ObjDirMeta, sum)
	if err != nil {
		return nil, err
	}
	m, err := ostree.ParseDirMeta(b)
	if err != nil {
		return nil, fmt.Errorf("dirmeta %s: %w", sum, err)
	}
	return m, nil
}

// structure writes the commit, its detached metadata, and every directory:
// its dirmeta, its checkout entry and its dirtree, in tree order; then the
// var/tmp entry ostree-ext always appends (a duplicate if the commit has
// one, which unpackers tolerate).
func (w *Writer) structure(commit ostree.Checksum, dirs []Dir) error {
	repo := w.repo
	b, err := repo.ReadMetadata(ostree.ObjCommit, commit)
	if err != nil {
		return err
	}
	if err := w.data(objectName(commit, "commit"), b); err != nil {
		return err
	}
	if repo.Has(commit, ostree.ObjCommitMeta) {
		b, err := repo.ReadMetadata(ostree.ObjCommitMeta, commit)
		if err != nil {
			return err
		}
		if err := w.data(objectName(commit, "commitmeta"), b); err != nil {
			return err
		}
	}
	written := map[ostree.Checksum]bool{}
	for _, d := range dirs {
		if !written[d.Meta] {
			written[d.Meta] = true
			b, err := repo.ReadMetadata(ostree.ObjDirMeta, d.Meta)
			if err != nil {
				return err
			}
			if err := w.data(objectName(d.Meta, "dirmeta"), b); err != nil {
				return err
			}
		}
		if cp := checkoutPath(d.Path); cp != "" && !w.dirs[cp] {
			m, err := readDirMeta(repo, d.Meta)
			if err != nil {
				return err
			}
			if err := w.parents(cp); err != nil {
				return err
			}
			if err := w.dir(cp, w.mode(m.Mode), int(m.UID), int(m.GID)); err != nil {
				return err
			}
		}
		if !written[d.Tree] {
			written[d.Tree] = true
			b, err := repo.ReadMetadata(ostree.ObjDirTree, d.Tree)
			if err != nil {
				return err
			}
			if err := w.data(objectName(d.Tree, "dirtree"), b); err != nil {
				return err
			}
		}
	}
	return w.header(&tar.Header{Typeflag: tar.TypeDir, Name: "var/tmp", Mode: w.mode(ostree.ModeDir | 0o1777)})
}

// Content writes a content object, the xattrs it needs before it, and the
// checkout paths (the commit's) that hard-link to it.
func (w *Writer) Content(sum ostree.Checksum, paths []string) error {
	obj, err := w.repo.OpenContent(sum)
	if err != nil {
		return err
	}
	defer obj.Close()
	h := obj.Header
	objName := objectName(sum, "file")
	hdr := &tar.Header{Name: objName, Uid: int(h.UID), Gid: int(h.GID), Mode: w.mode(h.Mode)}
	if err := w.writeXattrs(sum, h.Xattrs, hdr); err != nil {
		return err
	}
	if h.IsSymlink() {
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, h.SymlinkTarget
	} else {
		hdr.Typeflag, hdr.Size = tar.TypeReg, obj.Size
	}
	if err := w.header(hdr); err != nil {
		return err
	}
	if !h.IsSymlink() {
		if _, err := io.Copy(w.tw, obj); err != nil {
			return err
		}
	}
	for _, p := range paths {
		cp := checkoutPath(p)
		if err := w.parents(cp); err != nil {
			return err
		}
		// ostree-ext writes empty files as files: many hard links to one
		// empty object would be a needless burden on unpackers.
		if !h.IsSymlink() && obj.Size == 0 {
			if err := w.header(&tar.Header{Typeflag: tar.TypeReg, Name: cp, Uid: hdr.Uid, Gid: hdr.Gid, Mode: hdr.Mode}); err != nil {
				return err
			}
			continue
		}
		if err := w.link(cp, objName); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) writeXattrs(sum ostree.Checksum, x ostree.Xattrs, hdr *tar.Header) error {
	raw := x.Marshal()
	set := ostree.SumBytes(raw)
	switch {
	case w.opts.V0:
		// v0 writers recorded only non-empty sets.
		if len(x) == 0 {
			return nil
		}
		target := v0XattrsDir + set.String()
		if !w.xattrs[set] {
			w.xattrs[set] = true
			if err := w.data(target, raw); err != nil {
				return err
			}
		}
		return w.link(objectName(sum, "file.xattrs"), target)
	case w.opts.Xattrs == XattrsHardLink:
		// Every object gets a link, even to the empty set: current
		// importers insist on one before each object.
		target := objectName(set, "file-xattrs")
		if !w.xattrs[set] {
			w.xattrs[set] = true
			if err := w.data(target, raw); err != nil {
				return err
			}
		}
		return w.link(objectName(sum, "file-xattrs-link"), target)
	case w.opts.Xattrs == XattrsLinkFile:
		if err := w.data(objectName(sum, "file-xattrs-link"), raw); err != nil {
			return err
		}
	}
	if len(x) > 0 {
		hdr.Format = tar.FormatPAX
		hdr.PAXRecords = map[string]string{}
		for _, a := range x {
			hdr.PAXRecords[paxXattrPrefix+a.Name] = string(a.Value)
		}
	}
	return nil
}

// parents writes the checkout directories above p that this layer lacks;
// only chunk layers need them, as the commit layer has every directory.
func (w *Writer) parents(p string) error {
	dir := path.Dir(p)
	if dir == "." || w.dirs[dir] {
		return nil
	}
	if err := w.parents(dir); err != nil {
		return err
	}
	return w.dir(dir, 0o755, 0, 0)
}
