package ostree

import (
	"bytes"
	"reflect"
	"testing"
)

// Checksums the real `ostree commit` (2022.7) gave for these objects.
func TestKnownChecksums(t *testing.T) {
	hello := &FileHeader{Mode: ModeRegular | 0o644}
	link := &FileHeader{Mode: ModeSymlink | 0o777, SymlinkTarget: "hello"}
	emptyTree := &DirTree{}
	root := &DirTree{
		Files: []TreeFile{
			{Name: "hello", Checksum: mustParse(t, "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b")},
			{Name: "link", Checksum: mustParse(t, "73baaba0102e9154b8522687d33eedb8ed1bc78eadb82428b2616144ec502934")},
		},
		Dirs: []TreeDir{{
			Name: "d",
			Tree: mustParse(t, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
			Meta: mustParse(t, "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"),
		}},
	}
	tests := []struct {
		name string
		sum  func() Checksum
		want string
	}{
		{"dirmeta 0:0 0755", func() Checksum { return SumBytes((&DirMeta{Mode: ModeDir | 0o755}).Marshal()) }, "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"},
		{"empty dirtree", func() Checksum { return SumBytes(emptyTree.Marshal()) }, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
		{"dirtree with files and a dir", func() Checksum { return SumBytes(root.Marshal()) }, "8c172917383fdf8f87ff594a124a6eb184b38391bcc917f2ff256d5a71ca8926"},
		{"regular file", func() Checksum {
			h := NewContentHash(hello)
			h.Write([]byte("hello\n"))
			return SumHash(h)
		}, "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b"},
		{"symlink", func() Checksum { return SumHash(NewContentHash(link)) }, "73baaba0102e9154b8522687d33eedb8ed1bc78eadb82428b2616144ec502934"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sum().String(); got != tt.want {
				t.Errorf("checksum %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRoundTrips(t *testing.T) {
	x := Xattrs{{Name: "security.selinux", Value: []byte("system_u:object_r:bin_t:s0\x00")}, {Name: "user.a", Value: []byte{0, 1, 2}}}
	// Big enough that framing offsets need 2 and 4 bytes.
	many := DirTree{Dirs: []TreeDir{}}
	for i := 0; i < 3000; i++ {
		many.Files = append(many.Files, TreeFile{Name: string(rune('a'+i%26)) + string(rune(0x4e00+i)), Checksum: SumBytes([]byte{byte(i)})})
	}
	commit := &Commit{
		Metadata: Metadata{
			{Key: "ostree.bootable", Value: BoolVariant(true)},
			{Key: MetaRefBinding, Value: StringsVariant([]string{"ock", "exampleos"})},
			{Key: "version", Value: StringVariant("1.31")},
		},
		Parent:    SumBytes([]byte("p")),
		Subject:   "subject",
		Body:      "body",
		Timestamp: 1700000000,
		RootTree:  SumBytes([]byte("t")),
		RootMeta:  SumBytes([]byte("m")),
	}
	tests := []struct {
		name  string
		value any
		enc   func() []byte
		dec   func([]byte) (any, error)
	}{
		{"dirmeta with xattrs", &DirMeta{UID: 1000, GID: 10, Mode: ModeDir | 0o2755, Xattrs: x},
			(&DirMeta{UID: 1000, GID: 10, Mode: ModeDir | 0o2755, Xattrs: x}).Marshal,
			func(b []byte) (any, error) { return ParseDirMeta(b) }},
		{"large dirtree", &many, many.Marshal, func(b []byte) (any, error) { return ParseDirTree(b) }},
		{"commit", commit, commit.Marshal, func(b []byte) (any, error) { return ParseCommit(b) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.dec(tt.enc())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.value) {
				t.Errorf("decoded value differs from the encoded one:\n got %.300v\nwant %.300v", got, tt.value)
			}
		})
	}

	h := &FileHeader{UID: 5, GID: 6, Mode: ModeRegular | 0o4755, Xattrs: x}
	got, size, n, err := ParseArchiveHeader(append(h.ArchiveHeader(1<<40), "payload"...))
	if err != nil || size != 1<<40 || !reflect.DeepEqual(got, h) || n != len(h.ArchiveHeader(1<<40)) {
		t.Errorf("archive header: %+v %d %d %v", got, size, n, err)
	}
}

func TestMalformedInputsFail(t *testing.T) {
	good := (&DirTree{Files: []TreeFile{{Name: "a", Checksum: SumBytes(nil)}}}).Marshal()
	tests := map[string][]byte{
		"truncated":           good[:len(good)-3],
		"offset past the end": append(bytes.Clone(good[:len(good)-1]), 0xff),
		"garbage":             []byte("definitely not a dirtree"),
		"short checksum":      (&DirTree{}).Marshal()[:0],
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if name == "short checksum" {
				b = encodeTuple(member{data: encodeArray(1, [][]byte{encodeTuple(member{data: encodeString("a"), align: 1}, member{data: []byte{1, 2}, align: 1})}), align: 1}, member{align: 1})
			}
			if _, err := ParseDirTree(b); err == nil {
				t.Error("parsed")
			}
		})
	}
}

func mustParse(t *testing.T, s string) Checksum {
	t.Helper()
	c, err := ParseChecksum(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRefBindings reads bindings as the real `ostree commit` (2022.7)
// wrote them: `-b ock` gave the metadata {'ostree.ref-binding': <['ock']>}.
func TestRefBindings(t *testing.T) {
	tests := []struct {
		name string
		meta Metadata
		want []string
		err  bool
	}{
		{"unbound", Metadata{{Key: "version", Value: StringVariant("1")}}, nil, false},
		{"one", Metadata{{Key: MetaRefBinding, Value: Variant{Type: "as", Data: []byte("ock\x00\x04")}}}, []string{"ock"}, false},
		{"two", Metadata{{Key: MetaRefBinding, Value: StringsVariant([]string{"a", "exampleos"})}}, []string{"a", "exampleos"}, false},
		{"wrong type", Metadata{{Key: MetaRefBinding, Value: StringVariant("ock")}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := (&Commit{Metadata: tt.meta}).RefBindings()
			if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RefBindings() = %q, %v; want %q (error %v)", got, err, tt.want, tt.err)
			}
		})
	}
}
