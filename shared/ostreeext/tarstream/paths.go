// Package tarstream reads and writes the tar stream of an ostree-ext layer:
// an OSTree repository under sysroot/ostree/repo (format 0 or 1, each era's
// ways of recording xattrs) beside the checked-out tree, whose files are
// hard links into it. Importer puts the objects of such layers into a
// Store, verified; Writer writes them out of an archive repository.
// Which layers an image has, and which objects go into which, is decided
// above it (shared/ostreeext, shared/ostreeext/chunking).
package tarstream

import (
	"fmt"
	"path"
	"strings"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// Paths inside an ostree-ext layer. v0 images keep the repo config at
// sysroot/config and xattrs under repoPrefix+"xattrs/".
const (
	sysrootPrefix = "sysroot/"
	repoPrefix    = sysrootPrefix + "ostree/repo/"
	objectsPrefix = repoPrefix + "objects/"
	v0XattrsDir   = repoPrefix + "xattrs/"
)

// Object kinds found under objects/ beyond OSTree's own object types.
const (
	kindNone        = iota
	kindObject      // a real OSTree object: see objType
	kindXattrs      // v1 .file-xattrs: a serialised a(ayay) named by its sha256
	kindXattrsLink  // v1 <content>.file-xattrs-link
	kindV0XattrLink // v0 <content>.file.xattrs
	kindV0Xattrs    // v0 xattrs/<sha256>
)

// entry is what a tar path means.
type entry struct {
	kind     int
	objType  ostree.ObjectType
	checksum ostree.Checksum
}

// cleanName normalises a tar entry name: writers differ on a leading "./"
// (upstream strips it only from names under 100 bytes), and a name that
// climbs out of the root is an attack, never a layout variant.
func cleanName(name string) (string, error) {
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("tar entry %q escapes the image root (a '..' path): the image is malformed or malicious", name)
		}
	}
	name = strings.TrimPrefix(name, "./")
	name = strings.TrimLeft(name, "/")
	return strings.TrimSuffix(name, "/"), nil
}

// classify tells what a cleaned tar path is.
func classify(name string) (entry, error) {
	if rest, ok := strings.CutPrefix(name, v0XattrsDir); ok {
		c, err := ostree.ParseChecksum(rest)
		if err != nil {
			return entry{}, fmt.Errorf("v0 xattrs entry %q: %w", name, err)
		}
		return entry{kind: kindV0Xattrs, checksum: c}, nil
	}
	rest, ok := strings.CutPrefix(name, objectsPrefix)
	if !ok || !strings.Contains(rest, "/") {
		return entry{}, nil
	}
	dir, file := path.Split(rest)
	base, suffix, ok := strings.Cut(file, ".")
	if !ok || len(dir) != 3 {
		return entry{}, fmt.Errorf("unexpected entry %q in the OSTree object store", name)
	}
	c, err := ostree.ParseChecksum(dir[:2] + base)
	if err != nil {
		return entry{}, fmt.Errorf("object %q: %w", name, err)
	}
	switch suffix {
	case "file-xattrs":
		return entry{kind: kindXattrs, checksum: c}, nil
	case "file-xattrs-link":
		return entry{kind: kindXattrsLink, checksum: c}, nil
	case "file.xattrs":
		return entry{kind: kindV0XattrLink, checksum: c}, nil
	}
	t, ok := ostree.ObjectTypeFromSuffix(suffix)
	if !ok || t == ostree.ObjFileZ {
		return entry{}, fmt.Errorf("object %q: unknown object type %q", name, suffix)
	}
	return entry{kind: kindObject, objType: t, checksum: c}, nil
}

func objectName(c ostree.Checksum, suffix string) string {
	h := c.String()
	return objectsPrefix + h[:2] + "/" + h[2:] + "." + suffix
}

// CleanName normalises a tar entry name as the importer does, refusing one
// that climbs out of the root.
func CleanName(name string) (string, error) { return cleanName(name) }

// InObjectStore reports whether a cleaned tar path is under the layer's
// object store (sysroot/ostree/repo/objects/).
func InObjectStore(name string) bool { return strings.HasPrefix(name, objectsPrefix) }

// SysrootDir is the top-level directory that holds the layer's repository.
const SysrootDir = "sysroot"

// ContentObject returns the content object a cleaned tar path names in the
// layer's object store, if it names one.
func ContentObject(name string) (ostree.Checksum, bool) {
	e, err := classify(name)
	if err != nil || e.kind != kindObject || e.objType != ostree.ObjFile {
		return ostree.Checksum{}, false
	}
	return e.checksum, true
}
