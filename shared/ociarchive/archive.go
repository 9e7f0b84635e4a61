package ociarchive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// WriteArchive writes one image, whose layers are files, as an archive at
// path (see Archive). The file appears at path only once complete.
func WriteArchive(path string, b Build, names []string) error {
	a, err := CreateArchive(path, "")
	if err != nil {
		return err
	}
	defer a.Discard()
	for _, l := range b.Layers {
		if err := a.AddLayer(l); err != nil {
			return err
		}
	}
	return a.Commit(b, names)
}

// Archive is one image being written as a tar file that is at the same
// time an OCI image layout (an "oci-archive", one index entry per name) and
// a docker-archive (manifest.json listing every name as a RepoTag).
//
// Why both: `podman load` tries oci-archive first, which can only name the
// image once; with several names it falls through to docker-archive, which
// loads them all. So `podman load -i` yields every name, while
// `skopeo copy oci-archive:FILE:NAME` still picks one.
//
// Layers go in first, as files (AddLayer) or streamed as they are made
// (Layer), then Commit adds the config and manifests and gives the file its
// name. Until then it is a temp file, which Discard removes.
type Archive struct {
	path   string
	f      *os.File
	tw     *tar.Writer // over f; no entry is open between calls
	layers []BlobLayer
	done   bool
}

var epoch = time.Unix(0, 0)

// CreateArchive starts an archive that Commit will put at path. Its temp
// file is in tmpDir, which must be on path's filesystem; "" means beside
// path. (A scratch directory that outlives no process, such as a workdir,
// keeps a killed run from leaving a large temp file there.)
func CreateArchive(path, tmpDir string) (*Archive, error) {
	if tmpDir == "" {
		tmpDir = filepath.Dir(path)
	}
	f, err := os.CreateTemp(tmpDir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	a := &Archive{path: path, f: f, tw: tar.NewWriter(f)}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}); err != nil {
			a.Discard()
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return a, nil
}

// Discard removes the unfinished archive; after Commit it does nothing.
func (a *Archive) Discard() {
	if !a.done {
		a.done = true
		a.f.Close()
		os.Remove(a.f.Name())
	}
}

// AddLayer copies a layer blob from its file. It writes the entry itself
// rather than through the tar.Writer, so that the body is copied file to
// file by the kernel (copy_file_range) instead of through user space:
// layers are the bulk of the archive.
func (a *Archive) AddLayer(l BlobLayer) error {
	if err := a.addLayer(l); err != nil {
		return fmt.Errorf("write %s: layer %s: %w", a.path, l.Digest, err)
	}
	a.layers = append(a.layers, l)
	return nil
}

func (a *Archive) addLayer(l BlobLayer) error {
	src, err := os.Open(l.Path)
	if err != nil {
		return err
	}
	defer src.Close()
	hdr, err := blobHeader(l.Digest, l.Size)
	if err != nil {
		return err
	}
	if _, err := a.f.Write(hdr); err != nil {
		return err
	}
	n, err := a.f.ReadFrom(src)
	if err == nil && n != l.Size {
		err = fmt.Errorf("layer file %s: %d bytes, want %d", l.Path, n, l.Size)
	}
	if err == nil {
		_, err = a.f.Write(make([]byte, padding(l.Size)))
	}
	return err
}

// Layer streams an uncompressed layer that write produces straight into
// the archive: no layer file, every byte written once. The entry's header
// names the blob by its digest, known only at the end, so a placeholder is
// written first and overwritten in place.
func (a *Archive) Layer(write func(io.Writer) error) (BlobLayer, error) {
	l, err := a.streamLayer(write)
	if err != nil {
		return BlobLayer{}, fmt.Errorf("write %s: %w", a.path, err)
	}
	a.layers = append(a.layers, l)
	return l, nil
}

func (a *Archive) streamLayer(write func(io.Writer) error) (BlobLayer, error) {
	start, err := a.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return BlobLayer{}, err
	}
	if _, err := a.f.Write(make([]byte, blockSize)); err != nil {
		return BlobLayer{}, err
	}
	bw := bufio.NewWriterSize(a.f, 1<<20)
	lw := &layerWriter{w: bw, h: sha256.New()}
	if err := write(lw); err != nil {
		return BlobLayer{}, err
	}
	if _, err := bw.Write(make([]byte, padding(lw.n))); err != nil {
		return BlobLayer{}, err
	}
	if err := bw.Flush(); err != nil {
		return BlobLayer{}, err
	}
	d := digest.NewDigest(digest.SHA256, lw.h)
	hdr, err := blobHeader(d, lw.n)
	if err != nil {
		return BlobLayer{}, err
	}
	if _, err := a.f.WriteAt(hdr, start); err != nil {
		return BlobLayer{}, err
	}
	return BlobLayer{MediaType: imgspecv1.MediaTypeImageLayer, Digest: d, DiffID: d, Size: lw.n}, nil
}

// layerWriter hashes and counts what passes through to w.
type layerWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (l *layerWriter) Write(p []byte) (int, error) {
	l.h.Write(p)
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

const blockSize = 512

func padding(size int64) int64 { return (blockSize - size%blockSize) % blockSize }

// blobHeader is the one tar block that heads a blob's entry. It must be
// exactly one block, since Layer writes it over a placeholder: past
// ustar's 8 GiB the size goes in GNU's binary form instead of a PAX record.
func blobHeader(d digest.Digest, size int64) ([]byte, error) {
	h := &tar.Header{Typeflag: tar.TypeReg, Name: blobPath(d), Mode: 0o644, Size: size, ModTime: epoch, Format: tar.FormatUSTAR}
	if size > 1<<33-1 {
		h.Format = tar.FormatGNU
	}
	var b bytes.Buffer
	if err := tar.NewWriter(&b).WriteHeader(h); err != nil {
		return nil, err
	}
	if b.Len() != blockSize {
		return nil, fmt.Errorf("tar header for %s is %d bytes, want one block", h.Name, b.Len())
	}
	return b.Bytes(), nil
}

// Commit writes the image's config and manifests and puts the archive at
// its path, synced. b.Layers lists the layers in image order; they must be
// the ones added, in any order.
func (a *Archive) Commit(b Build, names []string) (err error) {
	defer func() {
		if err != nil {
			a.Discard()
			err = fmt.Errorf("write %s: %w", a.path, err)
		}
	}()
	if len(names) == 0 {
		return fmt.Errorf("the image needs at least one name")
	}
	for _, l := range b.Layers {
		if !slices.ContainsFunc(a.layers, func(m BlobLayer) bool { return m.Digest == l.Digest }) {
			return fmt.Errorf("layer %s was not added to the archive", l.Digest)
		}
	}
	cfg := b.Config
	cfg.RootFS = imgspecv1.RootFS{Type: "layers"}
	m := imgspecv1.Manifest{
		Versioned:   imgspec.Versioned{SchemaVersion: 2},
		MediaType:   imgspecv1.MediaTypeImageManifest,
		Annotations: b.Annotations,
	}
	for _, l := range b.Layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		m.Layers = append(m.Layers, imgspecv1.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size, Annotations: l.Annotations})
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	m.Config = imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: digest.FromBytes(rawCfg), Size: int64(len(rawCfg))}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return err
	}
	index := imgspecv1.Index{Versioned: imgspec.Versioned{SchemaVersion: 2}, MediaType: imgspecv1.MediaTypeImageIndex}
	manifestDesc := imgspecv1.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(rawManifest), Size: int64(len(rawManifest))}
	type dockerManifest struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	dm := []dockerManifest{{Config: blobPath(m.Config.Digest), RepoTags: names}}
	for _, l := range b.Layers {
		dm[0].Layers = append(dm[0].Layers, blobPath(l.Digest))
	}
	for _, n := range names {
		d := manifestDesc
		d.Annotations = map[string]string{imgspecv1.AnnotationRefName: n}
		index.Manifests = append(index.Manifests, d)
	}
	rawIndex, err := json.Marshal(index)
	if err != nil {
		return err
	}
	rawDocker, err := json.Marshal(dm)
	if err != nil {
		return err
	}
	for _, e := range []struct {
		name string
		data []byte
	}{
		{blobPath(m.Config.Digest), rawCfg},
		{blobPath(manifestDesc.Digest), rawManifest},
		{imgspecv1.ImageLayoutFile, []byte(`{"imageLayoutVersion":"` + imgspecv1.ImageLayoutVersion + `"}`)},
		{imgspecv1.ImageIndexFile, rawIndex},
		{"manifest.json", rawDocker},
	} {
		if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := a.tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := a.tw.Close(); err != nil {
		return err
	}
	if err := a.f.Sync(); err != nil {
		return err
	}
	if err := a.f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(a.f.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(a.f.Name(), a.path); err != nil {
		return err
	}
	a.done = true
	return nil
}

func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}
