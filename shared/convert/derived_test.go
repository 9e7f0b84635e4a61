package convert

import (
	"cmp"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/shared/ociarchive"
	"github.com/ocne-image/ocne-image/shared/ostreeext"
	"github.com/ocne-image/ocne-image/shared/ostreeext/tarstream"
	"github.com/ocne-image/ocne-image/test/fixture"
	"github.com/ocne-image/ocne-image/test/harness"
)

// TestUpstreamDerived converts the derived images the real ostree-ext
// made (2021: no diff ID label, a commit bound to ref exampleos, SELinux
// labels), serves the archive and pulls it as Anaconda does.
func TestUpstreamDerived(t *testing.T) {
	const base = "3cb6170b6945065c2475bc16d7bebcc84f96b4c677811a6751e479b89f8c3770"
	tests := []struct {
		file, path, content string
	}{
		{"exampleos-derive.ociarchive", "/usr/share/anewfile", "FROM localhost/exampleos\nADD Dockerfile /usr/share/anewfile\n"},
		{"exampleos-derive-v2.ociarchive", "/usr/share/anewfile2", "FROM localhost/exampleos\nADD Dockerfile /usr/share/anewfile2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "archive")
			res, err := ToArchive(context.Background(), "oci-archive:../containerimage/testdata/"+tt.file, out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Ref != "exampleos" || res.Commit.String() == base {
				t.Fatalf("served %s as %q, want a new commit as exampleos, the base commit's binding", res.Commit, res.Ref)
			}
			if got := harness.Run(t, "ostree", "--repo="+out, "rev-parse", res.Ref+"^"); got != base {
				t.Errorf("parent %s, want the base commit %s", got, base)
			}
			client := pull(t, served(t, out), res.Ref)
			ref := "srv:" + res.Ref
			if got := harness.Run(t, "ostree", "--repo="+client, "cat", ref, tt.path); got+"\n" != tt.content {
				t.Errorf("%s holds %q, want %q", tt.path, got, tt.content)
			}
			want := "-00644 0 0 " + strconv.Itoa(len(tt.content)) + " { [(b'security.selinux', b'system_u:object_r:usr_t:s0')] } " + tt.path
			if got := strings.Join(strings.Fields(harness.Run(t, "ostree", "--repo="+client, "ls", "-X", ref, tt.path)), " "); got != want {
				t.Errorf("ls %s = %q, want %q (mode, owner and the label of /usr, its parent directory)", tt.path, got, want)
			}
			// The base commit's files keep their labels.
			baseLs := harness.Run(t, "ostree", "--repo="+out, "ls", "-RXC", base, "/usr/bin", "/usr/lib")
			if got := harness.Run(t, "ostree", "--repo="+client, "ls", "-RXC", ref, "/usr/bin", "/usr/lib"); got != baseLs || !strings.Contains(got, "shell_exec_t") {
				t.Errorf("base files changed in the merged commit:\n%s\nwant\n%s", got, baseLs)
			}
		})
	}
}

// derivedOSRelease replaces the base's os-release; deploy needs its ID.
const derivedOSRelease = "ID=derived\nPRETTY_NAME=\"Derived OCK\"\n"

// derivedLayers are three layers as `podman build` would add them to the
// fixture tree: new, replaced and hard-linked files, /etc, a symlink, a
// whiteout of a file and of a directory, an opaque directory, content
// outside /usr and /etc that a commit does not hold, and links into the
// image's own repository: to an object, and to changed data under an
// object's name.
func derivedLayers(t *testing.T) [][]fixture.LayerEntry {
	sh, hostname := baseObject(t, fixture.PathShell), baseObject(t, fixture.PathHostname)
	return [][]fixture.LayerEntry{{
		fixture.Dir("usr", 0o755),
		fixture.Dir("usr/share", 0o755),
		fixture.Dir("usr/share/derived", 0o750),
		fixture.File("usr/share/derived/new.txt", 0o640, "new\n"),
		fixture.File(fixture.PathOSRelease, 0o644, derivedOSRelease),
		fixture.Whiteout(fixture.PathHardLinkA),
		fixture.Dir("etc", 0o755),
		fixture.File("etc/derived.conf", 0o600, "x=1\n"),
		fixture.Symlink("usr/bin/derived-link", "sh"),
		fixture.HardLink("usr/bin/derived-hard", "usr/share/derived/new.txt"),
		fixture.Dir("var", 0o755),
		fixture.File("var/lib/derived-state", 0o644, "dropped\n"),
	}, {
		fixture.File(fixture.PathEmptyDir+"/kept", 0o644, "kept\n"),
		fixture.Opaque(fixture.PathEmptyDir),
		fixture.Whiteout(fixture.PathDeepRoot),
		fixture.Whiteout("usr/share/no-such-dir/file"), // hides nothing, makes nothing
		fixture.File("usr/share/derived/new.txt", 0o644, "newer\n"),
	}, {
		fixture.File(sh, 0o755, "changed sh\n"),
		fixture.HardLink(fixture.PathShell, sh),
		fixture.HardLink("usr/bin/sh-again", sh),
		fixture.HardLink("usr/etc/hostname-again", hostname),
		fixture.File(baseObject(t, fixture.PathEtcOSRelease), 0o644, "claimed by no link\n"),
	}}
}

// baseObject is the path in the image of the object the fixture commit
// stores rel as.
func baseObject(t *testing.T, rel string) string {
	fc := fixtureSource(t)
	fields := strings.Fields(harness.Run(t, "ostree", "--repo="+fc.repo, "ls", "-C", fc.commit, "/"+rel))
	sum := fields[len(fields)-2]
	return "sysroot/ostree/repo/objects/" + sum[:2] + "/" + sum[2:] + ".file"
}

// applyOnDisk makes in tree what derivedLayers make of it, with plain
// file operations: the tree a real `ostree commit` then turns into the
// commit the merge must produce.
func applyOnDisk(t *testing.T, tree string) {
	t.Helper()
	p := func(rel string) string { return filepath.Join(tree, filepath.FromSlash(rel)) }
	write := func(rel string, mode os.FileMode, data string) {
		os.Remove(p(rel))
		if err := os.WriteFile(p(rel), []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p(rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(p("usr/share/derived"), 0o750))
	must(os.Chmod(p("usr/share/derived"), 0o750))
	write("usr/share/derived/new.txt", 0o640, "new\n")
	write(fixture.PathOSRelease, 0o644, derivedOSRelease)
	must(os.Remove(p(fixture.PathHardLinkA)))
	write("usr/etc/derived.conf", 0o600, "x=1\n")
	must(os.Symlink("sh", p("usr/bin/derived-link")))
	must(os.Link(p("usr/share/derived/new.txt"), p("usr/bin/derived-hard")))
	must(os.RemoveAll(p(fixture.PathEmptyDir)))
	must(os.Mkdir(p(fixture.PathEmptyDir), 0o755))
	must(os.Chmod(p(fixture.PathEmptyDir), 0o755))
	write(fixture.PathEmptyDir+"/kept", 0o644, "kept\n")
	must(os.RemoveAll(p(fixture.PathDeepRoot)))
	write("usr/share/derived/new.txt", 0o644, "newer\n")
	write(fixture.PathShell, 0o755, "changed sh\n")
	must(os.Link(p(fixture.PathShell), p("usr/bin/sh-again")))
	must(os.Link(p(fixture.PathHostname), p("usr/etc/hostname-again")))
}

// expectedMerge commits the fixture tree with derivedLayers applied on
// disk, with the real ostree, and returns `ostree ls -RXC` of it.
func expectedMerge(t *testing.T) string {
	t.Helper()
	fc := fixtureSource(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if out, err := exec.Command("cp", "-a", filepath.Join(fc.dir, "tree"), tree).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	applyOnDisk(t, tree)
	repo := filepath.Join(dir, "repo")
	commit, err := fixture.Commit(context.Background(), repo, fixture.DefaultMode, tree, DefaultRef)
	if err != nil {
		t.Fatal(err)
	}
	ls := harness.Run(t, "ostree", "--repo="+repo, "ls", "-RXC", commit)
	for _, p := range []string{"/usr/etc/derived.conf", "/usr/bin/derived-hard", "/" + fixture.PathEmptyDir + "/kept"} {
		if !strings.Contains(ls, " "+p+"\n") {
			t.Fatalf("the expected tree lacks %s:\n%s", p, ls)
		}
	}
	for _, p := range []string{fixture.PathHardLinkA, fixture.PathDeepRoot, "var"} {
		if strings.Contains(ls, " /"+p+"\n") {
			t.Fatalf("the expected tree has %s:\n%s", p, ls)
		}
	}
	return ls
}

// TestDerivedMerge builds derived images of the fixture commit in every
// layout we import and checks that the merged commit's tree is exactly the
// base tree with the layers applied: the tree the real `ostree commit`
// makes of the same files, down to the root checksum.
func TestDerivedMerge(t *testing.T) {
	ctx := context.Background()
	fc := fixtureSource(t)
	want := expectedMerge(t)
	tests := []struct {
		name    string
		opts    ostreeext.ExportOptions
		noLabel bool // as written before ostree-ext had diff ID labels
		ref     string
	}{
		{name: "v1", opts: ostreeext.ExportOptions{}},
		{name: "v1 chunked zstd", opts: ostreeext.ExportOptions{Layers: 4, Compression: ociarchive.Zstd}},
		{name: "bootc xattrs link files", opts: ostreeext.ExportOptions{Xattrs: tarstream.XattrsLinkFile, DotSlash: true}},
		{name: "v0", opts: ostreeext.ExportOptions{V0: true}},
		{name: "v0 without diff ID label", opts: ostreeext.ExportOptions{V0: true}, noLabel: true},
		{name: "v1 served as another ref", opts: ostreeext.ExportOptions{}, ref: "ock/custom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := encapsulate(t, tt.opts)
			defer b.RemoveLayerFiles()
			for _, entries := range derivedLayers(t) {
				if err := fixture.AppendLayer(&b, t.TempDir(), ociarchive.Gzip, entries...); err != nil {
					t.Fatal(err)
				}
			}
			if tt.noLabel {
				delete(b.Config.Config.Labels, ostreeext.LabelDiffID)
				delete(b.Annotations, ostreeext.LabelDiffID)
			}
			src := ociRef(t.TempDir())
			if err := fixture.WriteImage(ctx, src, b); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "archive")
			var log strings.Builder
			res, err := ToArchive(ctx, src, out, Options{Ref: tt.ref, Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "left out, as ostree-ext leaves them out: /sysroot (1), /var (2)") {
				t.Errorf("log %q does not warn about /var", log.String())
			}
			wantRef := cmp.Or(tt.ref, DefaultRef)
			if res.Ref != wantRef {
				t.Errorf("served as %q, want %q", res.Ref, wantRef)
			}
			harness.Run(t, "ostree", "--repo="+out, "fsck")
			if got := harness.Run(t, "ostree", "--repo="+out, "rev-parse", res.Ref+"^"); got != fc.commit {
				t.Errorf("parent %s, want the base commit %s", got, fc.commit)
			}
			if got := harness.Run(t, "ostree", "--repo="+out, "ls", "-RXC", res.Commit.String()); got != want {
				t.Errorf("merged tree differs from the base tree with the layers applied:\n%s", lineDiff(got, want))
			}
			client := pull(t, served(t, out), res.Ref)
			if got := harness.Run(t, "ostree", "--repo="+client, "show", "--print-metadata-key=ostree.ref-binding", res.Commit.String()); got != "['"+wantRef+"']" {
				t.Errorf("merged commit bound to %s, want ['%s']", got, wantRef)
			}
		})
	}
}

// lineDiff lists the lines only one of got and want has.
func lineDiff(got, want string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var out []string
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDerivedInstall runs Anaconda's ostreesetup steps (init-fs, os-init,
// pull, admin deploy) against a merged commit served over HTTP.
func TestDerivedInstall(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("deploy needs root")
	}
	ctx := t.Context()
	b := encapsulate(t, ostreeext.ExportOptions{Layers: 2})
	defer b.RemoveLayerFiles()
	out, res := convertDerived(t, &b, derivedLayers(t)...)
	sysroot := t.TempDir()
	// Registered after TempDir's own cleanup, so it runs before it.
	t.Cleanup(func() {
		if err := fixture.ReleaseDeployments(sysroot); err != nil {
			t.Error(err)
		}
	})
	log, err := fixture.Install(ctx, sysroot, served(t, out), res.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, res.Commit.String()+".0") {
		t.Fatalf("admin status does not show deployment %s.0:\n%s", res.Commit, log)
	}
	deployment := filepath.Join(sysroot, "ostree", "deploy", res.Ref, "deploy", res.Commit.String()+".0")
	for rel, want := range map[string]string{
		"etc/derived.conf":          "x=1\n", // deploy makes /etc from usr/etc
		"usr/share/derived/new.txt": "newer\n",
		fixture.PathOSRelease:       derivedOSRelease,
	} {
		if got, err := os.ReadFile(filepath.Join(deployment, rel)); err != nil || string(got) != want {
			t.Errorf("deployed %s = %q (%v), want %q", rel, got, err, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(deployment, fixture.PathHardLinkA)); !os.IsNotExist(err) {
		t.Errorf("whited-out %s deployed (%v)", fixture.PathHardLinkA, err)
	}
}

// TestDerivedLabels checks how entries of derived layers get their SELinux
// label: their own if they carry one (PAX), else that of what they
// replace, else their directory's.
func TestDerivedLabels(t *testing.T) {
	labelled := func(e fixture.LayerEntry, label string) fixture.LayerEntry {
		// libselinux stores labels NUL-terminated, and ostree prints them so.
		e.Header.PAXRecords = map[string]string{"SCHILY.xattr.security.selinux": label + "\x00"}
		return e
	}
	const dirLabel, fileLabel, ownLabel = "system_u:object_r:dir_t:s0", "system_u:object_r:file_t:s0", "system_u:object_r:own_t:s0"
	b := encapsulate(t, ostreeext.ExportOptions{})
	defer b.RemoveLayerFiles()
	out, res := convertDerived(t, &b, []fixture.LayerEntry{
		labelled(fixture.Dir("usr/share/labelled", 0o755), dirLabel),
		labelled(fixture.File("usr/share/labelled/replaced", 0o644, "old\n"), fileLabel),
	}, []fixture.LayerEntry{
		fixture.File("usr/share/labelled/replaced", 0o644, "new\n"),
		fixture.File("usr/share/labelled/new", 0o644, "new\n"),
		labelled(fixture.File("usr/share/labelled/own", 0o644, "own\n"), ownLabel),
		fixture.Dir("usr/share/labelled/subdir", 0o755),
	})
	for name, want := range map[string]string{"replaced": fileLabel, "new": dirLabel, "own": ownLabel, "subdir": dirLabel} {
		p := "/usr/share/labelled/" + name
		got := harness.Run(t, "ostree", "--repo="+out, "ls", "-X", res.Commit.String(), p)
		if !strings.Contains(got, "(b'security.selinux', b'"+want+"')") {
			t.Errorf("%s: %s, want label %s", p, got, want)
		}
	}
}

// convertDerived appends the derived layers to b, writes the image to an
// OCI layout and converts it.
func convertDerived(t *testing.T, b *ociarchive.Build, layers ...[]fixture.LayerEntry) (string, *Result) {
	t.Helper()
	for _, entries := range layers {
		if err := fixture.AppendLayer(b, t.TempDir(), ociarchive.Gzip, entries...); err != nil {
			t.Fatal(err)
		}
	}
	src := ociRef(t.TempDir())
	if err := fixture.WriteImage(t.Context(), src, *b); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "archive")
	res, err := ToArchive(t.Context(), src, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}
