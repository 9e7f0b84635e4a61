package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
)

func catImageCmd(args []string) error {
	fl := flag.NewFlagSet("catimage", flag.ExitOnError)
	busybox := fl.String("busybox", "/bin/busybox", "a static busybox")
	file := fl.String("file", "", "the file to put in /data")
	dest := fl.String("dest", "", "where to write the image")
	fl.Parse(args)
	ref, err := containerimage.ParseReference(*dest)
	if err != nil {
		return err
	}
	created := time.Now().UTC().Truncate(time.Second)
	// Uncompressed: the pull is not what is measured.
	tl, err := ociarchive.NewTarLayer(os.TempDir(), ociarchive.Uncompressed, created)
	if err != nil {
		return err
	}
	defer tl.Remove()
	if err := tl.CopyFile("/bin/busybox", *busybox, 0o755); err != nil {
		return err
	}
	if err := tl.CopyFile("/data/"+filepath.Base(*file), *file, 0o644); err != nil {
		return err
	}
	l, err := tl.Finish()
	if err != nil {
		return err
	}
	b := ociarchive.Build{Layers: []ociarchive.BlobLayer{l}, Config: imgspecv1.Image{
		Created:  &created,
		Platform: imgspecv1.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   imgspecv1.ImageConfig{Entrypoint: []string{"/bin/busybox"}},
	}}
	d, err := containerimage.Write(context.Background(), ref, []ociarchive.Build{b}, containerimage.Options{})
	if err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}
