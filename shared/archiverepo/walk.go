package archiverepo

import (
	"fmt"
	"path"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// Visitor is called for each object reachable from a commit. For
// directories p is the directory's path and t is ObjDirTree or ObjDirMeta;
// for files t is ObjFileZ. Paths are absolute within the commit ("/usr/bin").
type Visitor func(p string, t ostree.ObjectType, c ostree.Checksum) error

// MetadataReader is where Walk reads metadata objects: a Repo or a Stream.
type MetadataReader interface {
	ReadMetadata(ostree.ObjectType, ostree.Checksum) ([]byte, error)
}

// Walk reads the commit from r and visits, depth first in dirtree order,
// every dirtree, dirmeta and content object it references. It fails on the
// first missing or malformed metadata object, naming it; whether content
// objects exist is left to fn, which may be cheaper (or stricter) than a
// stat.
func Walk(r MetadataReader, commit ostree.Checksum, fn Visitor) (*ostree.Commit, error) {
	b, err := r.ReadMetadata(ostree.ObjCommit, commit)
	if err != nil {
		return nil, err
	}
	c, err := ostree.ParseCommit(b)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", commit, err)
	}
	if err := walkDir(r, "/", c.RootTree, c.RootMeta, fn); err != nil {
		return nil, err
	}
	return c, nil
}

func walkDir(r MetadataReader, p string, tree, meta ostree.Checksum, fn Visitor) error {
	mb, err := r.ReadMetadata(ostree.ObjDirMeta, meta)
	if err != nil {
		return fmt.Errorf("directory %s: %w", p, err)
	}
	if _, err := ostree.ParseDirMeta(mb); err != nil {
		return fmt.Errorf("directory %s: dirmeta %s: %w", p, meta, err)
	}
	if err := fn(p, ostree.ObjDirMeta, meta); err != nil {
		return err
	}
	tb, err := r.ReadMetadata(ostree.ObjDirTree, tree)
	if err != nil {
		return fmt.Errorf("directory %s: %w", p, err)
	}
	t, err := ostree.ParseDirTree(tb)
	if err != nil {
		return fmt.Errorf("directory %s: dirtree %s: %w", p, tree, err)
	}
	if err := fn(p, ostree.ObjDirTree, tree); err != nil {
		return err
	}
	for _, f := range t.Files {
		if err := validName(f.Name); err != nil {
			return fmt.Errorf("directory %s: %w", p, err)
		}
		if err := fn(path.Join(p, f.Name), ostree.ObjFileZ, f.Checksum); err != nil {
			return err
		}
	}
	for _, d := range t.Dirs {
		if err := validName(d.Name); err != nil {
			return fmt.Errorf("directory %s: %w", p, err)
		}
		if err := walkDir(r, path.Join(p, d.Name), d.Tree, d.Meta, fn); err != nil {
			return err
		}
	}
	return nil
}

// validName rejects names a tampered dirtree could use to escape a
// checkout; libostree refuses them too.
func validName(n string) error {
	if n == "" || n == "." || n == ".." || path.Base(n) != n {
		return fmt.Errorf("invalid file name %q in dirtree", n)
	}
	return nil
}
