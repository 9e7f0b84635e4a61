package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ociImage is the one image of an OCI layout directory, as the fixture
// writes it.
type ociImage struct {
	dir      string
	manifest imgspecv1.Manifest
	config   imgspecv1.Image
}

func readLayout(dir string) (*ociImage, error) {
	var index imgspecv1.Index
	if err := readJSON(filepath.Join(dir, imgspecv1.ImageIndexFile), &index); err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if len(index.Manifests) != 1 {
		return nil, fmt.Errorf("OCI layout %s holds %d manifests, want the one image a benchmark fixture has", dir, len(index.Manifests))
	}
	img := &ociImage{dir: dir}
	if err := readJSON(img.blobPath(index.Manifests[0].Digest), &img.manifest); err != nil {
		return nil, fmt.Errorf("OCI layout %s: manifest: %w", dir, err)
	}
	if err := readJSON(img.blobPath(img.manifest.Config.Digest), &img.config); err != nil {
		return nil, fmt.Errorf("OCI layout %s: config: %w", dir, err)
	}
	if len(img.config.RootFS.DiffIDs) != len(img.manifest.Layers) {
		return nil, fmt.Errorf("OCI layout %s: %d diff_ids for %d layers", dir, len(img.config.RootFS.DiffIDs), len(img.manifest.Layers))
	}
	return img, nil
}

func (img *ociImage) blobPath(d digest.Digest) string {
	return filepath.Join(img.dir, "blobs", d.Algorithm().String(), d.Encoded())
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func layersCmd(args []string) error {
	fl := flag.NewFlagSet("layers", flag.ExitOnError)
	dir := fl.String("layout", "", "OCI layout directory")
	fl.Parse(args)
	if *dir == "" {
		return fmt.Errorf("-layout is required")
	}
	img, err := readLayout(*dir)
	if err != nil {
		return err
	}
	for _, l := range img.manifest.Layers {
		fmt.Println(img.blobPath(l.Digest))
	}
	return nil
}
