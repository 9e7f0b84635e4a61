package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/serverimage/layout"
)

// archiveObjects is what objectSizes finds in an archive server image.
type archiveObjects struct {
	Objects  int   // regular files under the repository's objects/
	Bytes    int64 // their summed sizes
	TarBytes int64 // the size of the image file
}

func objSizeCmd(args []string) error {
	fl := flag.NewFlagSet("objsize", flag.ExitOnError)
	archive := fl.String("archive", "", "archive server image (OCI archive) to read")
	fl.Parse(args)
	if *archive == "" {
		return fmt.Errorf("-archive is required")
	}
	o, err := objectSizes(*archive)
	if err != nil {
		return err
	}
	fmt.Printf("objects=%d objbytes=%d tarbytes=%d\n", o.Objects, o.Bytes, o.TarBytes)
	return nil
}

// objectSizes sums the OSTree objects inside the archive server image at
// file, without extracting it: the same measure as the apparent size of
// the files of an archive repository's objects/ directory.
func objectSizes(file string) (archiveObjects, error) {
	f, err := os.Open(file)
	if err != nil {
		return archiveObjects{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return archiveObjects{}, err
	}
	// The index comes after the blobs, so find the layers first; the
	// reader seeks over the blobs, so this pass costs little.
	layers, err := archiveLayers(f)
	if err != nil {
		return archiveObjects{}, fmt.Errorf("%s: %w", file, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return archiveObjects{}, err
	}
	res := archiveObjects{TarBytes: fi.Size()}
	prefix := strings.TrimPrefix(layout.RepoPath, "/") + "/objects/"
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return archiveObjects{}, fmt.Errorf("%s: %w", file, err)
		}
		l, ok := layers[path.Clean(h.Name)]
		if !ok {
			continue
		}
		n, size, err := filesUnder(tr, l.MediaType, prefix)
		if err != nil {
			return archiveObjects{}, fmt.Errorf("%s: layer %s: %w", file, l.Digest, err)
		}
		res.Objects += n
		res.Bytes += size
	}
	if res.Objects == 0 {
		return archiveObjects{}, fmt.Errorf("%s: no layer holds files under /%s: not an archive server image", file, prefix)
	}
	return res, nil
}

// archiveLayers reads the index and manifest of the OCI archive r and
// returns its layers by their entry names.
func archiveLayers(r io.Reader) (map[string]imgspecv1.Descriptor, error) {
	const maxJSON = 4 << 20
	small := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || h.Size > maxJSON {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		small[path.Clean(h.Name)] = b
	}
	var index imgspecv1.Index
	if err := unmarshalEntry(small, imgspecv1.ImageIndexFile, &index); err != nil {
		return nil, err
	}
	if len(index.Manifests) == 0 {
		return nil, fmt.Errorf("%s lists no image", imgspecv1.ImageIndexFile)
	}
	// Every name of the image points at the same manifest.
	var m imgspecv1.Manifest
	if err := unmarshalEntry(small, blobEntry(index.Manifests[0].Digest), &m); err != nil {
		return nil, err
	}
	layers := map[string]imgspecv1.Descriptor{}
	for _, l := range m.Layers {
		layers[blobEntry(l.Digest)] = l
	}
	return layers, nil
}

func unmarshalEntry(entries map[string][]byte, name string, v any) error {
	b, ok := entries[name]
	if !ok {
		return fmt.Errorf("no %s in the archive", name)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func blobEntry(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// filesUnder counts and sums the regular files below prefix in the layer
// read from r.
func filesUnder(r io.Reader, mediaType, prefix string) (n int, size int64, err error) {
	switch {
	case strings.HasSuffix(mediaType, "+gzip"):
		zr, err := gzip.NewReader(r)
		if err != nil {
			return 0, 0, err
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(mediaType, "+zstd"):
		zr, err := zstd.NewReader(r)
		if err != nil {
			return 0, 0, err
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, size, nil
		}
		if err != nil {
			return 0, 0, err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if h.Typeflag == tar.TypeReg && strings.HasPrefix(name, prefix) {
			n++
			size += h.Size
		}
	}
}
