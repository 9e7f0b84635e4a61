package containerimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// WriteArchive writes one image as a tar file that is at the same time an
// OCI image layout (an "oci-archive", one index entry per name) and a
// docker-archive (manifest.json listing every name as a RepoTag).
//
// Why both: `podman load` tries oci-archive first, which can only name the
// image once; with several names it falls through to docker-archive, which
// loads them all. So `podman load -i` yields every name, while
// `skopeo copy oci-archive:FILE:NAME` still picks one.
//
// The file appears at path only once complete.
func WriteArchive(path string, b Build, names []string) (err error) {
	if len(names) == 0 {
		return fmt.Errorf("write %s: the image needs at least one name", path)
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

	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	aw := &archiveWriter{out: f, tw: tar.NewWriter(f)}
	aw.dir("blobs/")
	aw.dir("blobs/sha256/")
	for _, l := range b.Layers {
		aw.file(blobPath(l.Digest), l.Path, l.Size)
	}
	aw.bytes(blobPath(m.Config.Digest), rawCfg)
	aw.bytes(blobPath(manifestDesc.Digest), rawManifest)
	aw.bytes(imgspecv1.ImageLayoutFile, []byte(`{"imageLayoutVersion":"`+imgspecv1.ImageLayoutVersion+`"}`))
	aw.bytes(imgspecv1.ImageIndexFile, rawIndex)
	aw.bytes("manifest.json", rawDocker)
	if aw.err == nil {
		aw.err = aw.tw.Close()
	}
	if aw.err == nil {
		aw.err = f.Sync()
	}
	if aw.err == nil {
		aw.err = f.Close()
	}
	if aw.err != nil {
		return fmt.Errorf("write %s: %w", path, aw.err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// archiveWriter keeps the first error, so the sequence above reads straight.
type archiveWriter struct {
	out *os.File
	tw  *tar.Writer
	err error
}

var epoch = time.Unix(0, 0)

func (a *archiveWriter) dir(name string) {
	if a.err == nil {
		a.err = a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: epoch})
	}
}

func (a *archiveWriter) bytes(name string, b []byte) {
	if a.err == nil {
		a.err = a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: epoch})
	}
	if a.err == nil {
		_, a.err = a.tw.Write(b)
	}
}

// file adds a blob from a file. It writes the entry itself rather than
// through the tar.Writer, so that the body is copied file to file by the
// kernel (copy_file_range) instead of through user space: layers are the
// bulk of the archive. The tar.Writer has no entry open at this point, so
// its stream stays consistent.
func (a *archiveWriter) file(name, src string, size int64) {
	if a.err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		a.err = err
		return
	}
	defer f.Close()
	var hdr bytes.Buffer
	if err := tar.NewWriter(&hdr).WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: epoch}); err != nil {
		a.err = err
		return
	}
	if _, a.err = a.out.Write(hdr.Bytes()); a.err != nil {
		return
	}
	n, err := a.out.ReadFrom(f)
	if err == nil && n != size {
		err = fmt.Errorf("layer file %s: %d bytes, want %d", src, n, size)
	}
	if err == nil {
		_, err = a.out.Write(make([]byte, (512-size%512)%512))
	}
	a.err = err
}
