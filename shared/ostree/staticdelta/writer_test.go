package staticdelta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"

	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/ocne-image/ocne-image/shared/ostree"
	"github.com/ocne-image/ocne-image/test/harness"
)

// memSink keeps the files written.
type memSink map[string][]byte

func (m memSink) WriteFile(name string, size int64, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err == nil && int64(len(b)) != size {
		err = errors.New("size mismatch")
	}
	m[name] = b
	return err
}

// smallCommit builds, in memory, a commit of /f (a file), /d/l (a
// symlink) and /d/e (an empty file), as Add calls would see it.
func smallCommit(t *testing.T) (commit []byte, meta map[ostree.Checksum][]byte, metaTypes map[ostree.Checksum]ostree.ObjectType, files map[ostree.Checksum]*ostree.FileHeader, contents map[ostree.Checksum][]byte) {
	t.Helper()
	meta, metaTypes = map[ostree.Checksum][]byte{}, map[ostree.Checksum]ostree.ObjectType{}
	files, contents = map[ostree.Checksum]*ostree.FileHeader{}, map[ostree.Checksum][]byte{}
	addFile := func(h *ostree.FileHeader, data string) ostree.Checksum {
		s := ostree.NewContentHash(h)
		s.Write([]byte(data))
		c := ostree.SumHash(s)
		files[c], contents[c] = h, []byte(data)
		return c
	}
	addMeta := func(t ostree.ObjectType, b []byte) ostree.Checksum {
		c := ostree.SumBytes(b)
		meta[c], metaTypes[c] = b, t
		return c
	}
	f := addFile(&ostree.FileHeader{Mode: ostree.ModeRegular | 0o644, Xattrs: ostree.Xattrs{{Name: "user.a", Value: []byte("1")}}}, "hello\n")
	l := addFile(&ostree.FileHeader{Mode: ostree.ModeSymlink | 0o777, SymlinkTarget: "../f"}, "")
	e := addFile(&ostree.FileHeader{UID: 1000, GID: 1000, Mode: ostree.ModeRegular | 0o600}, "")
	dm := addMeta(ostree.ObjDirMeta, (&ostree.DirMeta{Mode: ostree.ModeDir | 0o755}).Marshal())
	d := addMeta(ostree.ObjDirTree, (&ostree.DirTree{Files: []ostree.TreeFile{{Name: "e", Checksum: e}, {Name: "l", Checksum: l}}}).Marshal())
	root := addMeta(ostree.ObjDirTree, (&ostree.DirTree{Files: []ostree.TreeFile{{Name: "f", Checksum: f}}, Dirs: []ostree.TreeDir{{Name: "d", Tree: d, Meta: dm}}}).Marshal())
	commit = (&ostree.Commit{Subject: "s", Timestamp: 1700000000, RootTree: root, RootMeta: dm}).Marshal()
	return commit, meta, metaTypes, files, contents
}

func TestWriterDeterministic(t *testing.T) {
	commit, meta, types, files, contents := smallCommit(t)
	write := func(reverse bool, opts Options) memSink {
		sink := memSink{}
		w, err := NewWriter(sink, ostree.SumBytes(commit), commit, nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		metaKeys := slices.SortedFunc(maps.Keys(meta), func(a, b ostree.Checksum) int { return bytes.Compare(a[:], b[:]) })
		fileKeys := slices.SortedFunc(maps.Keys(files), func(a, b ostree.Checksum) int { return bytes.Compare(a[:], b[:]) })
		if reverse {
			slices.Reverse(metaKeys)
			slices.Reverse(fileKeys)
		}
		for _, c := range metaKeys {
			if err := w.AddMetadata(types[c], c, meta[c]); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range append(fileKeys, fileKeys[0]) { // and once again
			if err := w.AddContent(c, files[c], int64(len(contents[c])), bytes.NewReader(contents[c])); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return sink
	}
	for _, opts := range []Options{{}, {Compression: XZ}, {PartSize: 1}} {
		t.Run(opts.Compression.String()+"/"+strconv.FormatInt(opts.PartSize, 10), func(t *testing.T) {
			a, b := write(false, opts), write(false, opts)
			if !maps.EqualFunc(a, b, bytes.Equal) {
				t.Error("the same calls gave different files")
			}
			if sb, err := ostree.ParseDeltaSuperblock(a[ostree.ScratchDeltaSuperblockPath(ostree.SumBytes(commit))]); err != nil {
				t.Error(err)
			} else if n := countObjects(sb); n != len(meta)+len(files) {
				t.Errorf("delta holds %d objects, want %d", n, len(meta)+len(files))
			}
			if c := write(true, opts); len(c) != len(a) {
				t.Errorf("another order gave %d files, want %d", len(c), len(a))
			}
		})
	}
}

func countObjects(sb *ostree.DeltaSuperblock) int {
	n := len(sb.Fallbacks)
	for _, p := range sb.Parts {
		n += len(p.Objects)
	}
	return n
}

func TestWriterRefuses(t *testing.T) {
	commit, meta, types, files, contents := smallCommit(t)
	to := ostree.SumBytes(commit)
	var someFile ostree.Checksum
	for c, h := range files {
		if !h.IsSymlink() && len(contents[c]) > 0 {
			someFile = c
		}
	}
	tests := []struct {
		name string
		run  func(w *Writer) error
		want string
	}{
		{"missing content", func(w *Writer) error {
			for c := range meta {
				w.AddMetadata(types[c], c, meta[c])
			}
			_, err := w.Close()
			return err
		}, "content object .* was never added"},
		{"missing dirtree", func(w *Writer) error { _, err := w.Close(); return err }, "dirmeta .* was never added"},
		{"corrupt content", func(w *Writer) error {
			return w.AddContent(someFile, files[someFile], 6, strings.NewReader("HELLO\n"))
		}, "checksum mismatch"},
		{"short content", func(w *Writer) error {
			return w.AddContent(someFile, files[someFile], 7, strings.NewReader("hello\n"))
		}, "got 6 bytes, header says 7"},
		{"corrupt metadata", func(w *Writer) error {
			for c := range meta {
				return w.AddMetadata(types[c], c, append(bytes.Clone(meta[c]), 0))
			}
			return nil
		}, "checksum mismatch"},
		{"commit as a part object", func(w *Writer) error { return w.AddMetadata(ostree.ObjCommit, to, commit) }, "only dirtree and dirmeta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWriter(memSink{}, to, commit, nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = tt.run(w)
			if err == nil || !regexp.MustCompile(tt.want).MatchString(err.Error()) {
				t.Errorf("got error %v, want one matching %q", err, tt.want)
			}
		})
	}
	if _, err := NewWriter(memSink{}, to, append(bytes.Clone(commit), 0), nil, Options{}); err == nil {
		t.Error("NewWriter took a commit that does not hash to its name")
	}
}

// TestSameStructureAsLibostree compares our delta of a real commit with
// the one `ostree static-delta generate --empty` writes for it: the same
// objects, each with the same mode, xattrs and bytes.
func TestSameStructureAsLibostree(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: uses the real ostree")
	}
	repo, commit := commitTree(t)
	ours := filepath.Join(t.TempDir(), "ours")
	harness.Run(t, "cp", "-a", repo, ours)
	d, err := FromRepo(ours, "ock", Options{PartSize: testPartSize})
	if err != nil {
		t.Fatal(err)
	}
	harness.Run(t, "ostree", "--repo="+repo, "static-delta", "generate", "--empty", "--to=ock", "--min-fallback-size=0")
	want, err := readDelta(repo, commit)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readDelta(ours, commit)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("our delta writes %d objects, libostree's %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s %s: not in our delta", k.t, k.c)
		} else if g != w {
			t.Errorf("%s %s: ours writes %.200q, libostree %.200q", k.t, k.c, g, w)
		}
	}

	// `ostree static-delta show` reads ours and agrees with what we wrote.
	out := harness.Run(t, "ostree", "--repo="+ours, "static-delta", "show", commit.String())
	for _, line := range []string{"From <scratch>", "To: " + commit.String(), "Endianness: little",
		"Number of fallback entries: 0", "Number of parts: " + strconv.Itoa(len(d.Parts))} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("static-delta show: no line %q in\n%s", line, out)
		}
	}
	for i, p := range d.Parts {
		line := "PartMeta" + strconv.Itoa(i) + ": nobjects=" + strconv.Itoa(len(p.Objects)) +
			" size=" + strconv.FormatUint(p.Size, 10) + " usize=" + strconv.FormatUint(p.USize, 10) + "\n"
		if !strings.Contains(out, line) {
			t.Errorf("static-delta show: no line %q", line)
		}
	}
	if list := harness.Run(t, "ostree", "--repo="+ours, "static-delta", "list"); !strings.Contains(list, commit.String()) {
		t.Errorf("static-delta list does not list %s:\n%s", commit, list)
	}

	// Our summary says what `ostree summary -u` says, but when.
	harness.Run(t, "ostree", "--repo="+repo, "summary", "-u")
	view := func(dir string) []string {
		out := harness.Run(t, "ostree", "--repo="+dir, "summary", "--view")
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if !strings.Contains(l, "Last-Modified") && !strings.Contains(l, "ostree.summary.indexed-deltas") &&
				!strings.Contains(l, "ostree.static-deltas") { // libostree's superblock differs from ours
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		slices.Sort(lines)
		return lines
	}
	if g, w := view(ours), view(repo); !slices.Equal(g, w) {
		t.Errorf("summary --view:\n%s\nwant (as ostree summary -u)\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
	var digest []string
	for _, b := range d.Superblock {
		digest = append(digest, fmt.Sprintf("0x%02x", b))
	}
	if want := fmt.Sprintf("{'%s': <[byte %s]>}", commit, strings.Join(digest, ", ")); !strings.Contains(harness.Run(t, "ostree", "--repo="+ours, "summary", "--view"), want) {
		t.Errorf("our summary does not list our delta as %s", want)
	}
}

// readDelta decodes every part of the delta to commit in repo and returns
// what each object would be written as: its mode and xattrs (for content)
// and its bytes.
func readDelta(repo string, commit ostree.Checksum) (map[objectKey]string, error) {
	sbBytes, err := os.ReadFile(filepath.Join(repo, ostree.ScratchDeltaSuperblockPath(commit)))
	if err != nil {
		return nil, err
	}
	sb, err := ostree.ParseDeltaSuperblock(sbBytes)
	if err != nil {
		return nil, err
	}
	objs := map[objectKey]string{}
	for i, ph := range sb.Parts {
		file, err := os.ReadFile(filepath.Join(repo, ostree.ScratchDeltaPartPath(commit, i)))
		if err != nil {
			return nil, err
		}
		if file[0] != ostree.DeltaPartXZ {
			return nil, errors.New("part not xz")
		}
		r, err := xz.NewReader(bytes.NewReader(file[1:]))
		if err != nil {
			return nil, err
		}
		payload, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		p, err := ostree.ParseDeltaPart(payload)
		if err != nil {
			return nil, err
		}
		ops := p.Ops
		arg := func() uint64 {
			v, n := binary.Uvarint(ops)
			ops = ops[n:]
			return v
		}
		for _, o := range ph.Objects {
			if len(ops) == 0 || ops[0] != ostree.DeltaOpOpenSpliceAndClose {
				return nil, errors.New("unexpected opcode")
			}
			ops = ops[1:]
			var desc string
			if o.Type == ostree.ObjFile {
				m, x := p.Modes[arg()], p.Xattrs[arg()]
				desc = strconv.Quote(string(x.Marshal())) + " " + strconv.FormatUint(uint64(m.UID), 10) + ":" +
					strconv.FormatUint(uint64(m.GID), 10) + " " + strconv.FormatUint(uint64(m.Mode), 8) + " "
			}
			size, off := arg(), arg()
			objs[objectKey{o.Type, o.Checksum}] = desc + string(p.Payload[off:off+size])
		}
	}
	return objs, nil
}
