package tarstream

import (
	"io"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

// Store is where an import or a merge puts objects, each verified against
// its name: an archive repository on disk (archiverepo.Repo) or one
// streamed as an image layer (archiverepo.Stream). Implementations are
// safe for concurrent use.
type Store interface {
	Has(ostree.Checksum, ostree.ObjectType) bool
	ReadMetadata(ostree.ObjectType, ostree.Checksum) ([]byte, error)
	WriteMetadata(ostree.ObjectType, ostree.Checksum, []byte) error
	// WriteContent stores a content object that must hash to its name;
	// AddContent one made here, named by what it hashes to.
	WriteContent(ostree.Checksum, *ostree.FileHeader, int64, io.Reader) error
	AddContent(*ostree.FileHeader, int64, io.Reader) (ostree.Checksum, error)
	ContentHeader(ostree.Checksum) (*ostree.FileHeader, error)
	// TempDir is where scratch files may go.
	TempDir() string
}
