package convert

import (
	"archive/tar"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/ocne-image/ocne-image/shared/archiveserver"
	"github.com/ocne-image/ocne-image/shared/containerimage"
	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/shared/ostreeext/tarstream"
	"github.com/ocne-image/ocne-image/test/fixture"
	"github.com/ocne-image/ocne-image/test/harness"
)

// source is a fixture commit built once by the real `ostree commit`.
var source = sync.OnceValues(func() (*fixtureCommit, error) {
	dir, err := os.MkdirTemp("", "convert-fixture-")
	if err != nil {
		return nil, err
	}
	repo, commit, err := fixture.Build(context.Background(), dir, fixture.TreeOptions{BigFileSize: 3 << 20})
	return &fixtureCommit{dir: dir, repo: repo, commit: commit}, err
})

type fixtureCommit struct{ dir, repo, commit string }

func TestMain(m *testing.M) {
	harness.ExitIfShort("every test runs ostree (and skopeo, the registry)")
	code := m.Run()
	if fc, err := source(); err == nil {
		os.RemoveAll(fc.dir)
	}
	os.Exit(code)
}

func fixtureSource(t *testing.T) *fixtureCommit {
	t.Helper()
	fc, err := source()
	if err != nil {
		t.Fatalf("build fixture: %v", err)
	}
	return fc
}

func encapsulate(t *testing.T, opts ostreeext.ExportOptions) ociarchive.Build {
	t.Helper()
	fc := fixtureSource(t)
	opts.TempDir = t.TempDir()
	b, err := fixture.Encapsulate(context.Background(), fc.repo, fc.commit, opts)
	if err != nil {
		t.Fatalf("encapsulate: %v", err)
	}
	return b
}

// TestRoundTrip encapsulates a commit made by the real ostree in every
// layout and transport we accept, converts it back and has libostree check
// the result.
func TestRoundTrip(t *testing.T) {
	reg := harness.StartRegistry(t)
	tests := []struct {
		name      string
		opts      ostreeext.ExportOptions
		transport func(dir string) string
	}{
		{"v1 gzip oci", ostreeext.ExportOptions{}, ociRef},
		{"v1 zstd chunked", ostreeext.ExportOptions{Compression: ociarchive.Zstd, Layers: 6}, ociRef},
		{"v1 uncompressed chunked", ostreeext.ExportOptions{Compression: ociarchive.Uncompressed, Layers: 3}, ociRef},
		{"v1 xattrs link files and PAX", ostreeext.ExportOptions{Xattrs: tarstream.XattrsLinkFile}, ociRef},
		{"v1 xattrs PAX only", ostreeext.ExportOptions{Xattrs: tarstream.XattrsPAX}, ociRef},
		{"v1 ./ names", ostreeext.ExportOptions{DotSlash: true}, ociRef},
		{"v0", ostreeext.ExportOptions{V0: true}, ociRef},
		{"v0 ./ names zstd", ostreeext.ExportOptions{V0: true, DotSlash: true, Compression: ociarchive.Zstd}, ociRef},
		{"oci-archive", ostreeext.ExportOptions{Layers: 2}, func(d string) string { return "oci-archive:" + d + "/img.tar" }},
		{"docker-archive", ostreeext.ExportOptions{Layers: 2}, func(d string) string { return "docker-archive:" + d + "/img.tar:ock:1.31" }},
		{"dir", ostreeext.ExportOptions{}, func(d string) string { return "dir:" + d + "/img" }},
		{"containers-storage", ostreeext.ExportOptions{Layers: 2}, func(d string) string {
			return "containers-storage:[vfs@" + d + "/root+" + d + "/run]localhost/ock-ostree:1.31"
		}},
		{"docker registry", ostreeext.ExportOptions{Layers: 3}, func(string) string { return "docker://" + reg + "/olcne/ock-ostree:1.31" }},
		{"ostree-unverified-image", ostreeext.ExportOptions{}, func(d string) string { return "ostree-unverified-image:oci:" + d + ":1.31" }},
	}
	fc := fixtureSource(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := encapsulate(t, tt.opts)
			defer b.RemoveLayerFiles()
			dir := t.TempDir()
			ref := tt.transport(dir)
			writeRef := strings.TrimPrefix(ref, "ostree-unverified-image:")
			if strings.HasPrefix(writeRef, "containers-storage:") {
				// Podman's own storage, written by an independent client.
				layout := t.TempDir()
				if err := fixture.WriteImage(ctx, ociRef(layout), b); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command("skopeo", "copy", "-q", ociRef(layout), writeRef).CombinedOutput(); err != nil {
					t.Fatalf("skopeo copy: %v\n%s", err, out)
				}
			} else if err := fixture.WriteImage(ctx, writeRef, b); err != nil {
				t.Fatalf("write image: %v", err)
			}
			out := filepath.Join(t.TempDir(), "archive")
			res, err := ToArchive(ctx, ref, out, Options{Image: containerimage.Options{Arch: runtime.GOARCH}})
			if err != nil {
				t.Fatalf("convert: %v", err)
			}
			if res.Commit.String() != fc.commit || res.Version != fixture.CommitVersion {
				t.Errorf("result %+v, want commit %s version %s", res, fc.commit, fixture.CommitVersion)
			}
			if got := harness.Run(t, "ostree", "--repo="+out, "rev-parse", DefaultRef); got != fc.commit {
				t.Errorf("ref %s = %s, want %s", DefaultRef, got, fc.commit)
			}
			harness.Run(t, "ostree", "--repo="+out, "fsck")
			if got := harness.Run(t, "ostree", "--repo="+out, "show", "--print-detached-metadata-key="+fixture.DetachedKey, fc.commit); got != "'"+fixture.DetachedValue+"'" {
				t.Errorf("detached metadata %s = %s, want %q", fixture.DetachedKey, got, fixture.DetachedValue)
			}
		})
	}
}

func ociRef(dir string) string { return "oci:" + dir + ":1.31" }

// TestBadImages feeds broken and hostile images; each must fail with an
// error that names the problem and leave no output behind.
func TestBadImages(t *testing.T) {
	ctx := context.Background()
	type prep func(t *testing.T, dir string) string // returns the source reference
	tamper := func(edit fixture.EntryEdit, extra ...tar.Header) prep {
		return func(t *testing.T, dir string) string {
			b := encapsulate(t, ostreeext.ExportOptions{Compression: ociarchive.Uncompressed})
			defer b.RemoveLayerFiles()
			if err := fixture.RewriteLayer(&b, 0, t.TempDir(), edit, extra...); err != nil {
				t.Fatal(err)
			}
			if err := fixture.WriteImage(ctx, ociRef(dir), b); err != nil {
				t.Fatal(err)
			}
			return ociRef(dir)
		}
	}
	derived := func(entries ...fixture.LayerEntry) prep {
		return func(t *testing.T, dir string) string {
			b := encapsulate(t, ostreeext.ExportOptions{})
			defer b.RemoveLayerFiles()
			if err := fixture.AppendLayer(&b, t.TempDir(), ociarchive.Gzip, entries...); err != nil {
				t.Fatal(err)
			}
			if err := fixture.WriteImage(ctx, ociRef(dir), b); err != nil {
				t.Fatal(err)
			}
			return ociRef(dir)
		}
	}
	isBigFile := func(h *tar.Header) bool {
		return strings.HasSuffix(h.Name, ".file") && h.Size == 3<<20
	}
	tests := []struct {
		name    string
		prep    prep
		wantErr string
		is      error
	}{
		{
			name: "truncated layer",
			prep: func(t *testing.T, dir string) string {
				b := encapsulate(t, ostreeext.ExportOptions{})
				defer b.RemoveLayerFiles()
				if err := fixture.WriteImage(ctx, ociRef(dir), b); err != nil {
					t.Fatal(err)
				}
				blob := filepath.Join(dir, "blobs", "sha256", b.Layers[0].Digest.Encoded())
				if err := os.Truncate(blob, b.Layers[0].Size/2); err != nil {
					t.Fatal(err)
				}
				return ociRef(dir)
			},
			wantErr: "layer 1",
		},
		{
			name: "corrupted object",
			prep: tamper(func(h *tar.Header, d []byte) (*tar.Header, []byte, bool) {
				if isBigFile(h) {
					d[len(d)/2] ^= 0xff
				}
				return h, d, true
			}),
			wantErr: "checksum mismatch",
		},
		{
			name: "missing object",
			prep: tamper(func(h *tar.Header, d []byte) (*tar.Header, []byte, bool) {
				return h, d, !isBigFile(h)
			}),
			wantErr: "object missing from the image",
			is:      tarstream.ErrIncomplete,
		},
		{
			name: "missing dirtree",
			prep: tamper(func(h *tar.Header, d []byte) (*tar.Header, []byte, bool) {
				return h, d, !strings.HasSuffix(h.Name, ".dirtree") || len(d) < 100
			}),
			wantErr: "dirtree",
		},
		{
			name: "../ path in a tar entry",
			prep: tamper(func(h *tar.Header, d []byte) (*tar.Header, []byte, bool) { return h, d, true },
				tar.Header{Typeflag: tar.TypeReg, Name: "sysroot/../../etc/evil", Size: 4, Mode: 0o644}),
			wantErr: "escapes the image root",
		},
		{
			name: "plain container image without ostree.commit",
			prep: func(t *testing.T, dir string) string {
				if err := fixture.WritePlainImage(ctx, ociRef(dir), t.TempDir()); err != nil {
					t.Fatal(err)
				}
				return ociRef(dir)
			},
			wantErr: "not an OSTree container image",
			is:      ostreeext.ErrNotOSTree,
		},
		{
			name: "unknown arch in a manifest list",
			prep: func(t *testing.T, dir string) string {
				amd := encapsulate(t, ostreeext.ExportOptions{Arch: "amd64"})
				arm := encapsulate(t, ostreeext.ExportOptions{Arch: "arm64"})
				if err := fixture.WriteImage(ctx, ociRef(dir), amd, arm); err != nil {
					t.Fatal(err)
				}
				return ociRef(dir)
			},
			wantErr: "no image for this architecture",
			is:      containerimage.ErrArch,
		},
		{
			name: "layer whose config diff_id is wrong",
			prep: func(t *testing.T, dir string) string {
				b := encapsulate(t, ostreeext.ExportOptions{Layers: 2})
				defer b.RemoveLayerFiles()
				if b.Config.Config.Labels[ostreeext.LabelFinalDiffID] == b.Layers[0].DiffID.String() {
					t.Fatal("the fixture labels layer 1 as the last ostree layer")
				}
				b.Layers[0].DiffID = wrongDiffID
				if err := fixture.WriteImage(ctx, ociRef(dir), b); err != nil {
					t.Fatal(err)
				}
				return ociRef(dir)
			},
			wantErr: "layer 1 (sha256:",
			is:      errWrongDiffID,
		},
		{
			name: "derived layer labelled as the last ostree layer",
			prep: func(t *testing.T, dir string) string {
				b := encapsulate(t, ostreeext.ExportOptions{})
				defer b.RemoveLayerFiles()
				if err := fixture.AppendLayer(&b, t.TempDir(), ociarchive.Gzip, fixture.File("usr/share/anewfile", 0o644, "new\n")); err != nil {
					t.Fatal(err)
				}
				b.Config.Config.Labels[ostreeext.LabelFinalDiffID] = b.Layers[1].DiffID.String()
				if err := fixture.WriteImage(ctx, ociRef(dir), b); err != nil {
					t.Fatal(err)
				}
				return ociRef(dir)
			},
			wantErr: "layer 2 (sha256:",
		},
		{
			name:    "device node in a derived layer",
			prep:    derived(fixture.LayerEntry{Header: tar.Header{Typeflag: tar.TypeChar, Name: "usr/lib/null", Mode: 0o666}}),
			wantErr: `tar entry "usr/lib/null": a character device: an OSTree commit holds only files`,
		},
		{
			name:    "hard link to nothing in a derived layer",
			prep:    derived(fixture.HardLink("usr/bin/x", "usr/bin/no-such-file")),
			wantErr: `tar entry "usr/bin/x": hard link to "usr/bin/no-such-file", which is not a file of the merged tree`,
		},
		{
			name:    "../ path in a derived layer",
			prep:    derived(fixture.File("usr/../../etc/evil", 0o644, "x")),
			wantErr: "escapes the image root",
		},
		{
			name:    "unknown transport",
			prep:    func(*testing.T, string) string { return "ftp://example.com/ock:1.31" },
			wantErr: "invalid image reference",
		},
		{
			name: "missing tag",
			prep: func(t *testing.T, dir string) string {
				b := encapsulate(t, ostreeext.ExportOptions{})
				defer b.RemoveLayerFiles()
				if err := fixture.WriteImage(ctx, ociRef(dir), b); err != nil {
					t.Fatal(err)
				}
				return "oci:" + dir + ":9.99"
			},
			wantErr: "9.99",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := tt.prep(t, t.TempDir())
			out := filepath.Join(t.TempDir(), "archive")
			arch := runtime.GOARCH
			if tt.is == containerimage.ErrArch {
				arch = "s390x"
			}
			_, err := ToArchive(ctx, src, out, Options{Image: containerimage.Options{Arch: arch}})
			if err == nil {
				t.Fatal("conversion succeeded")
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if tt.is == errWrongDiffID {
				if !strings.Contains(err.Error(), "but the image config's rootfs.diff_ids says "+wrongDiffID.String()) {
					t.Errorf("error %q does not name the expected diff_id", err)
				}
			} else if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if _, err := os.Lstat(out); !os.IsNotExist(err) {
				t.Errorf("output %s left behind (%v)", out, err)
			}
		})
	}
}

var (
	wrongDiffID    = digest.FromString("not this layer")
	errWrongDiffID = errors.New("test: a wrong diff_id")
)

// TestDiffIDCoversPadding converts an image whose first layer has zeros
// after its tar end-of-archive marker, where the importer stops reading
// (more of them than its read-ahead buffer): they are in the diff ID,
// which must still match.
func TestDiffIDCoversPadding(t *testing.T) {
	fc := fixtureSource(t)
	b := encapsulate(t, ostreeext.ExportOptions{Layers: 2})
	defer b.RemoveLayerFiles()
	if err := fixture.PadLayer(&b, 0, t.TempDir(), 1<<20); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := fixture.WriteImage(context.Background(), ociRef(dir), b); err != nil {
		t.Fatal(err)
	}
	res, err := ToArchive(context.Background(), ociRef(dir), filepath.Join(t.TempDir(), "a"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Commit.String() != fc.commit {
		t.Errorf("commit %s, want %s", res.Commit, fc.commit)
	}
}

func TestManifestListPicksArch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	amd := encapsulate(t, ostreeext.ExportOptions{Arch: "amd64"})
	arm := encapsulate(t, ostreeext.ExportOptions{Arch: "arm64", Layers: 2})
	if err := fixture.WriteImage(ctx, ociRef(dir), amd, arm); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		res, err := ToArchive(ctx, ociRef(dir), filepath.Join(t.TempDir(), "a"), Options{Image: containerimage.Options{Arch: arch}})
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if res.Arch != arch {
			t.Errorf("converted the %s image, want %s", res.Arch, arch)
		}
	}
}

// served serves the archive at dir with our own archive server and
// returns its URL.
func served(t *testing.T, dir string) string {
	t.Helper()
	s, err := archiveserver.New(archiveserver.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); s.Close() })
	return hs.URL
}

// pull pulls ref from url as Anaconda does (default options, so libostree
// checks the commit's ref bindings), has ostree fsck the result and
// returns the client repository.
func pull(t *testing.T, url, ref string) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "client")
	harness.Run(t, "ostree", "--repo="+repo, "init", "--mode=bare-user")
	harness.Run(t, "ostree", "--repo="+repo, "remote", "add", "--no-gpg-verify", "srv", url)
	harness.Run(t, "ostree", "--repo="+repo, "pull", "srv", ref)
	harness.Run(t, "ostree", "--repo="+repo, "fsck")
	return repo
}

// TestRefBinding converts a commit bound to a ref other than the default:
// unset, the ref is the bound one and a default pull works; set to another
// ref, the conversion is refused, naming the binding.
func TestRefBinding(t *testing.T) {
	ctx := context.Background()
	fc := fixtureSource(t)
	const bound = "exampleos/custom"
	commit, err := fixture.Commit(ctx, fc.repo, fixture.DefaultMode, filepath.Join(fc.dir, "tree"), bound)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fixture.Encapsulate(ctx, fc.repo, commit, ostreeext.ExportOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.RemoveLayerFiles()
	src := t.TempDir()
	if err := fixture.WriteImage(ctx, ociRef(src), b); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ref, want, wantErr string
	}{
		{name: "unset: the bound ref", ref: "", want: bound},
		{name: "the bound ref", ref: bound, want: bound},
		{name: "another ref", ref: DefaultRef, wantErr: `commit ` + commit + ` is bound to ref(s) "` + bound + `" (ostree.ref-binding), and libostree refuses to pull it as "ock"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "archive")
			var log strings.Builder
			res, err := ToArchive(ctx, ociRef(src), out, Options{Ref: tt.ref, Log: &log})
			if tt.wantErr != "" {
				var rb *RefBindingError
				if !errors.As(err, &rb) || !strings.HasSuffix(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want a RefBindingError, one line ending %q", err, tt.wantErr)
				}
				if _, err := os.Lstat(out); !os.IsNotExist(err) {
					t.Errorf("output %s left behind (%v)", out, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Ref != tt.want || res.Commit.String() != commit {
				t.Fatalf("served %s as %q, want %s as %q", res.Commit, res.Ref, commit, tt.want)
			}
			if tt.ref == "" && !strings.Contains(log.String(), `serving the commit as ref "`+bound+`"`) {
				t.Errorf("log %q does not say which ref is served", log.String())
			}
			client := pull(t, served(t, out), tt.want)
			if got := harness.Run(t, "ostree", "--repo="+client, "rev-parse", "srv:"+tt.want); got != commit {
				t.Errorf("pulled %s, want %s", got, commit)
			}
		})
	}
}
