// Package testcommit writes small OSTree commits in Go, for the tests of
// shared/ostreeext and its packages: they run under -short, without the
// ostree binary test/fixture commits with.
package testcommit

import (
	"cmp"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// Repo is where a commit is written: archiverepo.Repo or any Store.
type Repo interface {
	WriteMetadata(ostree.ObjectType, ostree.Checksum, []byte) error
	AddContent(*ostree.FileHeader, int64, io.Reader) (ostree.Checksum, error)
}

// Entry is one path of a commit: a directory (Dir), a symlink (Target) or
// a regular file (Data). Perm 0 means 0755 for a directory, 0644 for a file.
type Entry struct {
	Path   string
	Dir    bool
	Target string
	Data   string
	Perm   uint32
	Xattrs ostree.Xattrs
}

// Tree is a varied tree: shared content, an empty file, a symlink, a file
// past the importer's in-memory size, xattrs on files and directories,
// /etc as usr/etc.
func Tree() []Entry {
	label := ostree.Xattrs{{Name: "security.selinux", Value: []byte("system_u:object_r:etc_t:s0\x00")}}
	return []Entry{
		{Path: "usr/bin/sh", Data: "#!shell\n", Perm: 0o755},
		{Path: "usr/bin/bash", Data: "#!shell\n", Perm: 0o755},
		{Path: "usr/bin/rbash", Target: "bash"},
		{Path: "usr/lib/empty", Data: ""},
		{Path: "usr/lib/modules/6.1/vmlinuz", Data: strings.Repeat("kernel", 300_000)},
		{Path: "usr/etc", Dir: true, Xattrs: label},
		{Path: "usr/etc/passwd", Data: "root:x:0:0::/root:/bin/sh\n", Xattrs: label},
		{Path: "usr/share/doc/README", Data: "read me\n", Perm: 0o444},
	}
}

type dir struct {
	meta  ostree.DirMeta
	files map[string]ostree.Checksum
	dirs  map[string]*dir
}

func newDir(perm uint32, x ostree.Xattrs) *dir {
	return &dir{meta: ostree.DirMeta{Mode: ostree.ModeDir | perm, Xattrs: x}, files: map[string]ostree.Checksum{}, dirs: map[string]*dir{}}
}

// Write commits entries (parents are made as needed, 0755) and returns
// the commit.
func Write(repo Repo, entries []Entry, timestamp uint64) (ostree.Checksum, error) {
	root := newDir(0o755, nil)
	lookup := func(p string) *dir {
		d := root
		for _, name := range strings.Split(p, "/") {
			if name == "" || name == "." {
				continue
			}
			if d.dirs[name] == nil {
				d.dirs[name] = newDir(0o755, nil)
			}
			d = d.dirs[name]
		}
		return d
	}
	for _, e := range entries {
		parent, name := lookup(path.Dir(e.Path)), path.Base(e.Path)
		if e.Dir {
			d := lookup(e.Path)
			d.meta.Mode, d.meta.Xattrs = ostree.ModeDir|cmp.Or(e.Perm, 0o755), e.Xattrs
			continue
		}
		h := &ostree.FileHeader{Mode: ostree.ModeRegular | cmp.Or(e.Perm, 0o644), Xattrs: e.Xattrs}
		size := int64(len(e.Data))
		if e.Target != "" {
			h.Mode, h.SymlinkTarget, size = ostree.ModeSymlink|0o777, e.Target, 0
		}
		sum, err := repo.AddContent(h, size, strings.NewReader(e.Data[:size]))
		if err != nil {
			return ostree.Checksum{}, err
		}
		parent.files[name] = sum
	}
	tree, meta, err := writeDir(repo, root)
	if err != nil {
		return ostree.Checksum{}, err
	}
	c := &ostree.Commit{Subject: "test", Timestamp: timestamp, RootTree: tree, RootMeta: meta}
	return put(repo, ostree.ObjCommit, c.Marshal())
}

func writeDir(repo Repo, d *dir) (tree, meta ostree.Checksum, err error) {
	t := &ostree.DirTree{Files: []ostree.TreeFile{}, Dirs: []ostree.TreeDir{}}
	for _, name := range slices.Sorted(maps.Keys(d.files)) {
		t.Files = append(t.Files, ostree.TreeFile{Name: name, Checksum: d.files[name]})
	}
	for _, name := range slices.Sorted(maps.Keys(d.dirs)) {
		ct, cm, err := writeDir(repo, d.dirs[name])
		if err != nil {
			return tree, meta, err
		}
		t.Dirs = append(t.Dirs, ostree.TreeDir{Name: name, Tree: ct, Meta: cm})
	}
	if tree, err = put(repo, ostree.ObjDirTree, t.Marshal()); err != nil {
		return tree, meta, err
	}
	meta, err = put(repo, ostree.ObjDirMeta, d.meta.Marshal())
	return tree, meta, err
}

func put(repo Repo, t ostree.ObjectType, b []byte) (ostree.Checksum, error) {
	sum := ostree.SumBytes(b)
	return sum, repo.WriteMetadata(t, sum, b)
}
