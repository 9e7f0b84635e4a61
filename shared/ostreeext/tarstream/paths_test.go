package tarstream

import (
	"strings"
	"testing"

	"github.com/ocne-image/ocne-image/shared/ostree"
)

func TestClassify(t *testing.T) {
	const c = "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	obj := "sysroot/ostree/repo/objects/ab/" + c[2:]
	tests := []struct {
		name     string
		wantKind int
		wantType ostree.ObjectType
		wantErr  string
	}{
		{obj + ".commit", kindObject, ostree.ObjCommit, ""},
		{"./" + obj + ".dirtree", kindObject, ostree.ObjDirTree, ""},
		{obj + ".dirmeta", kindObject, ostree.ObjDirMeta, ""},
		{obj + ".commitmeta", kindObject, ostree.ObjCommitMeta, ""},
		{obj + ".file", kindObject, ostree.ObjFile, ""},
		{obj + ".file-xattrs", kindXattrs, 0, ""},
		{obj + ".file-xattrs-link", kindXattrsLink, 0, ""},
		{obj + ".file.xattrs", kindV0XattrLink, 0, ""},
		{"sysroot/ostree/repo/xattrs/" + c, kindV0Xattrs, 0, ""},
		{"usr/bin/bash", kindNone, 0, ""},
		{"sysroot/ostree/repo/config", kindNone, 0, ""},
		{"sysroot/ostree/repo/objects/ab", kindNone, 0, ""},
		{"./", kindNone, 0, ""},
		{obj + ".filez", 0, 0, "unknown object type"},
		{obj + ".bogus", 0, 0, "unknown object type"},
		{"sysroot/ostree/repo/objects/ab/short.file", 0, 0, "invalid OSTree checksum"},
		{"sysroot/ostree/repo/objects/AB/" + strings.ToUpper(c[2:]) + ".file", 0, 0, "lowercase"},
		{"sysroot/ostree/repo/objects/../../../etc/passwd", 0, 0, "escapes the image root"},
		{"../etc/passwd", 0, 0, "escapes the image root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, err := cleanName(tt.name)
			var e entry
			if err == nil {
				e, err = classify(name)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.kind != tt.wantKind || e.objType != tt.wantType {
				t.Errorf("kind %d type %v, want %d %v", e.kind, e.objType, tt.wantKind, tt.wantType)
			}
			if e.kind != kindNone && e.checksum.String() != c {
				t.Errorf("checksum %s, want %s", e.checksum, c)
			}
		})
	}
}
