package containerimage_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/signature"

	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
)

// build makes a one-layer image labelled which=WHICH.
func build(t *testing.T, which string) ociarchive.Build {
	t.Helper()
	tl, err := ociarchive.NewTarLayer(t.TempDir(), ociarchive.Gzip, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.File("etc/which", 0o644, int64(len(which)), strings.NewReader(which)); err != nil {
		t.Fatal(err)
	}
	l, err := tl.Finish()
	if err != nil {
		t.Fatal(err)
	}
	b := ociarchive.Build{Layers: []ociarchive.BlobLayer{l}}
	b.Config.OS, b.Config.Architecture = "linux", runtime.GOARCH
	b.Config.Config.Labels = map[string]string{"which": which}
	return b
}

// writeImage writes build(which) to dest.
func writeImage(t *testing.T, dest, which string) {
	t.Helper()
	ref, err := containerimage.ParseReference(dest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := containerimage.Write(context.Background(), ref, []ociarchive.Build{build(t, which)}, containerimage.Options{}); err != nil {
		t.Fatalf("write %s: %v", dest, err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// indexDigests lists the manifest digests of an OCI layout's index.
func indexDigests(t *testing.T, dir string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index imgspecv1.Index
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range index.Manifests {
		out = append(out, m.Digest.String())
	}
	return out
}

// dockerArchive writes the images of layout dir, named as given (""
// leaves one unnamed), into one docker-archive, as `podman save -m` does.
func dockerArchive(t *testing.T, file string, images map[string]string) {
	t.Helper()
	w, err := archive.NewWriter(nil, file)
	if err != nil {
		t.Fatal(err)
	}
	policy, _ := signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
	defer policy.Destroy()
	for name, src := range images {
		var nt reference.NamedTagged
		if name != "" {
			n, err := reference.ParseNormalizedNamed(name)
			if err != nil {
				t.Fatal(err)
			}
			nt = n.(reference.NamedTagged)
		}
		dest, err := w.NewReference(nt)
		if err != nil {
			t.Fatal(err)
		}
		srcRef, err := containerimage.ParseReference(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := copy.Image(context.Background(), policy, dest, srcRef, &copy.Options{}); err != nil {
			t.Fatalf("copy %s into %s: %v", src, file, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestResolveSource reads file sources without a name when they hold one
// image, and picks by name, tag or digest among several; every resolved
// reference must open with containers/image as the image asked for.
func TestResolveSource(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs skopeo")
	}
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo not installed (make deps)")
	}
	d := t.TempDir()
	one, two, unnamed := filepath.Join(d, "one"), filepath.Join(d, "two"), filepath.Join(d, "unnamed")
	writeImage(t, "oci:"+one, "A")
	writeImage(t, "oci:"+two+":1.31", "A")
	writeImage(t, "oci:"+two+":localhost/ock:1.32", "B")
	writeImage(t, "oci:"+unnamed, "A")
	writeImage(t, "oci:"+unnamed, "B")
	digests := indexDigests(t, unnamed)
	// Real skopeo makes the single-image files; a tar of a layout is an
	// oci-archive of all its images.
	run(t, "skopeo", "copy", "-q", "oci:"+one, "oci-archive:"+d+"/one.tar")
	run(t, "skopeo", "copy", "-q", "oci:"+one, "docker-archive:"+d+"/one-docker.tar:localhost/ock:1.31")
	run(t, "skopeo", "copy", "-q", "oci:"+one, "dir:"+d+"/dir")
	run(t, "tar", "-cf", d+"/two.tar", "-C", two, ".")
	run(t, "tar", "-cf", d+"/unnamed.tar", "-C", unnamed, ".")
	dockerArchive(t, d+"/two-docker.tar", map[string]string{"localhost/ock:1.31": "oci:" + two + ":1.31", "localhost/ock:1.32": "oci:" + two + ":localhost/ock:1.32"})

	tests := []struct {
		ref     string
		want    string   // the image's "which" label
		wantErr []string // all in the one-line error
	}{
		{ref: "oci:" + one, want: "A"},
		{ref: "oci:" + two + ":1.31", want: "A"},
		{ref: "oci:" + two + ":1.32", want: "B"},
		{ref: "oci:" + two + ":localhost/ock:1.32", want: "B"},
		{ref: "oci:" + two, wantErr: []string{"holds 2 images (1.31, localhost/ock:1.32) and no name was given"}},
		{ref: "oci:" + two + ":9.99", wantErr: []string{`has no image "9.99"; it holds 1.31, localhost/ock:1.32`}},
		{ref: "oci:" + unnamed, wantErr: []string{digests[0], digests[1]}},
		{ref: "oci:" + unnamed + ":" + digests[1], want: "B"},
		{ref: "oci:" + unnamed + ":@0", want: "A"},
		{ref: "oci-archive:" + d + "/one.tar", want: "A"},
		{ref: "ostree-unverified-image:oci-archive:" + d + "/one.tar", want: "A"},
		{ref: "oci-archive:" + d + "/two.tar", wantErr: []string{"oci-archive:" + d + "/two.tar holds 2 images (1.31, localhost/ock:1.32)"}},
		{ref: "oci-archive:" + d + "/two.tar:1.32", want: "B"},
		{ref: "oci-archive:" + d + "/unnamed.tar:" + digests[0], wantErr: []string{"has no name", "oci:DIR:@0"}},
		{ref: "docker-archive:" + d + "/one-docker.tar", want: "A"},
		{ref: "docker-archive:" + d + "/one-docker.tar:1.31", want: "A"},
		{ref: "docker-archive:" + d + "/two-docker.tar", wantErr: []string{"holds 2 images", "localhost/ock:1.31", "localhost/ock:1.32"}},
		{ref: "docker-archive:" + d + "/two-docker.tar:1.32", want: "B"},
		{ref: "dir:" + d + "/dir", want: "A"},
		{ref: "oci-archive:" + d + "/one-docker.tar", wantErr: []string{"has no index.json: not an oci-archive (use docker-archive:"}},
		{ref: "oci-archive:/nonexistent/ock.tar", wantErr: []string{"/nonexistent/ock.tar: no such file or directory"}},
		{ref: "oci:/nonexistent/layout", wantErr: []string{"/nonexistent/layout/index.json: no such file or directory"}},
		{ref: "docker-archive:/nonexistent.tar", wantErr: []string{"/nonexistent.tar: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.ref, d, ""), func(t *testing.T) {
			ref, err := containerimage.ResolveSource(tt.ref)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("resolved to %s, want an error", ref)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
						t.Errorf("error %q: want one line with %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			img, err := containerimage.Open(context.Background(), ref, containerimage.Options{Arch: runtime.GOARCH})
			if err != nil {
				t.Fatalf("open %s: %v", ref, err)
			}
			defer img.Close()
			if got := img.Labels()["which"]; got != tt.want {
				t.Errorf("%s opened image %q, want %q", ref, got, tt.want)
			}
		})
	}
}

// TestResolveSourceUpstream opens the image real ostree-ext wrote, whose
// only index entry has no name, without a name.
func TestResolveSourceUpstream(t *testing.T) {
	for _, ref := range []string{"oci-archive:testdata/exampleos-derive.ociarchive", "ostree-unverified-image:oci-archive:testdata/exampleos-derive.ociarchive"} {
		r, err := containerimage.ResolveSource(ref)
		if err != nil {
			t.Fatal(err)
		}
		img, err := containerimage.Open(context.Background(), r, containerimage.Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatalf("open %s: %v", ref, err)
		}
		if got := img.Labels()["ostree.commit"]; got != "3cb6170b6945065c2475bc16d7bebcc84f96b4c677811a6751e479b89f8c3770" {
			t.Errorf("%s: ostree.commit %q", ref, got)
		}
		img.Close()
	}
}

// TestArchiveReference reads the archives create writes (one image under
// several names, in both an OCI index and a docker manifest.json) and
// refuses one of several images.
func TestArchiveReference(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs tar")
	}
	d := t.TempDir()
	two := filepath.Join(d, "two")
	writeImage(t, "oci:"+two+":1.31", "A")
	writeImage(t, "oci:"+two+":1.32", "B")
	run(t, "tar", "-cf", d+"/two.tar", "-C", two, ".")
	if err := ociarchive.WriteArchive(d+"/server.tar", build(t, "server"), []string{"localhost/ock-ostree:latest", "localhost/ock-ostree:1.31"}); err != nil {
		t.Fatal(err)
	}

	ref, err := containerimage.ArchiveReference(d + "/server.tar")
	if err != nil {
		t.Fatal(err)
	}
	if want := "oci-archive:" + d + "/server.tar:localhost/ock-ostree:latest"; ref.String() != want {
		t.Errorf("reference %s, want %s", ref, want)
	}
	img, err := containerimage.Open(context.Background(), ref, containerimage.Options{TempDir: d})
	if err != nil {
		t.Fatal(err)
	}
	if img.Labels()["which"] != "server" {
		t.Errorf("labels %v", img.Labels())
	}
	img.Close()

	_, err = containerimage.ArchiveReference(d + "/two.tar")
	var choice *containerimage.ImageChoiceError
	if !errors.As(err, &choice) || len(choice.Have) != 2 {
		t.Errorf("two images: %v, want an ImageChoiceError naming both", err)
	}
	if _, err := containerimage.ArchiveReference(d + "/none.tar"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
