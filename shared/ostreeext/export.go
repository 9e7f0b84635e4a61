package ostreeext

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"maps"
	"path"
	"runtime"
	"strings"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/archiverepo"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/shared/ostreeext/chunking"
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

// ExportOptions shape an encapsulated image.
type ExportOptions struct {
	// V0 writes the pre-2022 "format 0" layout instead of format 1.
	V0 bool
	// Layers is how many layers to spread the commit over; <= 1 writes
	// one layer. The last layer always holds the commit and all metadata.
	Layers      int
	Compression ociarchive.Compression
	Xattrs      XattrStyle
	// DotSlash writes every name as "./name", as tar writers that do not
	// strip the prefix do.
	DotSlash bool
	Arch     string            // image architecture, default this machine's
	Labels   map[string]string // extra config labels
	TempDir  string            // where layer files go
}

// Export encapsulates commit as an ostree-ext image. The returned Build's
// layer files live in opts.TempDir until its RemoveLayerFiles.
func Export(ctx context.Context, repo *archiverepo.Repo, commit ostree.Checksum, opts ExportOptions) (ociarchive.Build, error) {
	if opts.Xattrs == "" {
		opts.Xattrs = XattrsHardLink
	}
	if opts.Compression == "" {
		opts.Compression = ociarchive.Gzip
	}
	if opts.Arch == "" {
		opts.Arch = runtime.GOARCH
	}
	if opts.V0 && opts.Layers > 1 {
		return ociarchive.Build{}, fmt.Errorf("ostree-ext format 0 images have a single layer")
	}
	plan, err := planExport(repo, commit, max(opts.Layers, 1))
	if err != nil {
		return ociarchive.Build{}, err
	}
	var b ociarchive.Build
	for i := range plan.bins {
		l, err := writeLayer(ctx, repo, plan, i, opts)
		if err != nil {
			b.RemoveLayerFiles()
			return ociarchive.Build{}, err
		}
		b.Layers = append(b.Layers, l)
	}
	b.Config = imageConfig(plan, b.Layers, opts)
	// ostree-ext repeats its labels as manifest annotations.
	b.Annotations = maps.Clone(b.Config.Config.Labels)
	return b, nil
}

type exportPlan struct {
	commitSum ostree.Checksum
	commit    *ostree.Commit
	dirs      []exportDir         // every directory, walk order
	bins      [][]chunking.Object // content per layer; the first is the commit layer
}

type exportDir struct {
	path       string
	tree, meta ostree.Checksum
}

// planExport walks the commit for its directories and content objects and
// packs the objects into layers.
func planExport(repo *archiverepo.Repo, commit ostree.Checksum, layers int) (*exportPlan, error) {
	p := &exportPlan{commitSum: commit}
	index := map[ostree.Checksum]int{}
	var objects []chunking.Object
	lastMeta := ostree.Checksum{}
	c, err := archiverepo.Walk(repo, commit, func(fp string, t ostree.ObjectType, sum ostree.Checksum) error {
		switch t {
		case ostree.ObjDirMeta:
			lastMeta = sum
		case ostree.ObjDirTree:
			p.dirs = append(p.dirs, exportDir{path: fp, tree: sum, meta: lastMeta})
		case ostree.ObjFileZ:
			i, ok := index[sum]
			if !ok {
				obj, err := repo.OpenContent(sum)
				if err != nil {
					return fmt.Errorf("%s: %w", fp, err)
				}
				obj.Close()
				i = len(objects)
				index[sum] = i
				objects = append(objects, chunking.Object{Sum: sum, Size: obj.Size})
			}
			objects[i].Paths = append(objects[i].Paths, fp)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export commit %s: %w", commit, err)
	}
	p.commit = c
	p.bins = chunking.Pack(objects, layers)
	return p, nil
}

// checkoutPath maps a commit path to where ostree-ext puts it in the
// container filesystem: /usr/etc is presented as /etc.
func checkoutPath(p string) string {
	p = strings.TrimPrefix(p, "/")
	if p == "usr/etc" || strings.HasPrefix(p, "usr/etc/") {
		return strings.TrimPrefix(p, "usr/")
	}
	return p
}

type layerWriter struct {
	tw     *tar.Writer
	opts   ExportOptions
	mtime  time.Time
	dirs   map[string]bool
	xattrs map[ostree.Checksum]bool
}

func (w *layerWriter) name(n string) string {
	if w.opts.DotSlash {
		return "./" + n
	}
	return n
}

func (w *layerWriter) header(h *tar.Header) error {
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

func (w *layerWriter) dir(p string, mode int64, uid, gid int) error {
	if p == "" || w.dirs[p] {
		return nil
	}
	w.dirs[p] = true
	return w.header(&tar.Header{Typeflag: tar.TypeDir, Name: p, Mode: mode, Uid: uid, Gid: gid})
}

func (w *layerWriter) data(p string, b []byte) error {
	if err := w.header(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o644, Size: int64(len(b))}); err != nil {
		return err
	}
	_, err := w.tw.Write(b)
	return err
}

func (w *layerWriter) link(p, target string) error {
	return w.header(&tar.Header{Typeflag: tar.TypeLink, Name: p, Linkname: target})
}

func writeLayer(ctx context.Context, repo *archiverepo.Repo, plan *exportPlan, idx int, opts ExportOptions) (l ociarchive.BlobLayer, err error) {
	lf, err := ociarchive.NewLayerFile(opts.TempDir, opts.Compression)
	if err != nil {
		return l, err
	}
	defer func() {
		if err != nil {
			lf.Remove()
		}
	}()
	w := &layerWriter{
		tw:     tar.NewWriter(lf),
		opts:   opts,
		mtime:  time.Unix(int64(plan.commit.Timestamp), 0).UTC(),
		dirs:   map[string]bool{},
		xattrs: map[ostree.Checksum]bool{},
	}
	commitLayer := idx == 0
	if err := w.skeleton(repo, plan, commitLayer); err != nil {
		return l, fmt.Errorf("export layer %d: %w", idx+1, err)
	}
	if commitLayer {
		if err := w.structure(repo, plan); err != nil {
			return l, fmt.Errorf("export layer %d: %w", idx+1, err)
		}
	}
	for _, f := range plan.bins[idx] {
		if err := ctx.Err(); err != nil {
			return l, err
		}
		if err := w.content(repo, f); err != nil {
			return l, fmt.Errorf("export layer %d: content object %s: %w", idx+1, f.Sum, err)
		}
	}
	if err := w.tw.Close(); err != nil {
		return l, fmt.Errorf("export layer %d: %w", idx+1, err)
	}
	l, err = lf.Finish()
	if err != nil {
		return l, err
	}
	if !commitLayer {
		l.Annotations = map[string]string{"ostree.components": chunking.Components(plan.bins[idx])}
	}
	return l, nil
}

// skeleton writes the repository's directories; the commit layer starts
// with the root directory and also gets the repository config.
func (w *layerWriter) skeleton(repo *archiverepo.Repo, plan *exportPlan, commitLayer bool) error {
	if commitLayer {
		m, err := readDirMeta(repo, plan.commit.RootMeta)
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
func (w *layerWriter) mode(m uint32) int64 {
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
func (w *layerWriter) structure(repo *archiverepo.Repo, plan *exportPlan) error {
	b, err := repo.ReadMetadata(ostree.ObjCommit, plan.commitSum)
	if err != nil {
		return err
	}
	if err := w.data(objectName(plan.commitSum, "commit"), b); err != nil {
		return err
	}
	if repo.Has(plan.commitSum, ostree.ObjCommitMeta) {
		b, err := repo.ReadMetadata(ostree.ObjCommitMeta, plan.commitSum)
		if err != nil {
			return err
		}
		if err := w.data(objectName(plan.commitSum, "commitmeta"), b); err != nil {
			return err
		}
	}
	written := map[ostree.Checksum]bool{}
	for _, d := range plan.dirs {
		if !written[d.meta] {
			written[d.meta] = true
			b, err := repo.ReadMetadata(ostree.ObjDirMeta, d.meta)
			if err != nil {
				return err
			}
			if err := w.data(objectName(d.meta, "dirmeta"), b); err != nil {
				return err
			}
		}
		if cp := checkoutPath(d.path); cp != "" && !w.dirs[cp] {
			m, err := readDirMeta(repo, d.meta)
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
		if !written[d.tree] {
			written[d.tree] = true
			b, err := repo.ReadMetadata(ostree.ObjDirTree, d.tree)
			if err != nil {
				return err
			}
			if err := w.data(objectName(d.tree, "dirtree"), b); err != nil {
				return err
			}
		}
	}
	return w.header(&tar.Header{Typeflag: tar.TypeDir, Name: "var/tmp", Mode: w.mode(ostree.ModeDir | 0o1777)})
}

// content writes an object, the xattrs it needs before it, and the checkout
// paths that hard-link to it.
func (w *layerWriter) content(repo *archiverepo.Repo, f chunking.Object) error {
	obj, err := repo.OpenContent(f.Sum)
	if err != nil {
		return err
	}
	defer obj.Close()
	h := obj.Header
	objName := objectName(f.Sum, "file")
	hdr := &tar.Header{Name: objName, Uid: int(h.UID), Gid: int(h.GID), Mode: w.mode(h.Mode)}
	if err := w.writeXattrs(f.Sum, h.Xattrs, hdr); err != nil {
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
	for _, p := range f.Paths {
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

func (w *layerWriter) writeXattrs(sum ostree.Checksum, x ostree.Xattrs, hdr *tar.Header) error {
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
func (w *layerWriter) parents(p string) error {
	dir := path.Dir(p)
	if dir == "." || w.dirs[dir] {
		return nil
	}
	if err := w.parents(dir); err != nil {
		return err
	}
	return w.dir(dir, 0o755, 0, 0)
}

func imageConfig(plan *exportPlan, layers []ociarchive.BlobLayer, opts ExportOptions) imgspecv1.Image {
	created := time.Unix(int64(plan.commit.Timestamp), 0).UTC()
	labels := map[string]string{
		"ostree.commit":    plan.commitSum.String(),
		"containers.bootc": "1",
	}
	final := layers[len(layers)-1].DiffID.String()
	if opts.V0 {
		labels["ostree.diffid"] = final
	} else {
		labels["ostree.final-diffid"] = final
	}
	if v, ok := plan.commit.Metadata.Get("version"); ok {
		if s, ok := v.String(); ok {
			labels["version"] = s
			labels["org.opencontainers.image.version"] = s
		}
	}
	if v, ok := plan.commit.Metadata.Get("ostree.bootable"); ok && v.Type == "b" && len(v.Data) == 1 && v.Data[0] == 1 {
		labels["ostree.bootable"] = "true"
	}
	for k, v := range opts.Labels {
		labels[k] = v
	}
	cfg := imgspecv1.Image{
		Created:  &created,
		Platform: imgspecv1.Platform{OS: "linux", Architecture: opts.Arch},
		Config:   imgspecv1.ImageConfig{Labels: labels, Cmd: []string{"/usr/bin/bash"}},
	}
	for i := range layers {
		cfg.History = append(cfg.History, imgspecv1.History{Created: &created, CreatedBy: fmt.Sprintf("ocne-image: ostree export, layer %d of %d", i+1, len(layers))})
	}
	return cfg
}
