package ock

import "testing"

func TestSourceReference(t *testing.T) {
	tests := []struct{ registry, tag, want string }{
		{DefaultRegistry, "1.31", "docker://container-registry.oracle.com/olcne/ock-ostree:1.31"},
		{"127.0.0.1:5000/olcne/ock-ostree", "1.31", "docker://127.0.0.1:5000/olcne/ock-ostree:1.31"},
		{"docker://quay.io/x/ock", "1.32", "docker://quay.io/x/ock:1.32"},
		{"oci:/srv/layout", "1.33", "oci:/srv/layout:1.33"},
		{"ostree-unverified-registry:quay.io/x/ock", "1.31", "ostree-unverified-registry:quay.io/x/ock:1.31"},
		{"ftp://example.com/ock", "1.31", "ftp://example.com/ock:1.31"},
	}
	for _, tt := range tests {
		if got := SourceReference(tt.registry, tt.tag); got != tt.want {
			t.Errorf("SourceReference(%q, %q) = %q, want %q", tt.registry, tt.tag, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, v := range []string{"1.31", "1.9", DefaultVersion()} {
		if err := ValidateVersion(v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	for _, v := range []string{"", "latest", "1.31.2", "v1.31", "2.0"} {
		if ValidateVersion(v) == nil {
			t.Errorf("version %q accepted", v)
		}
	}
	if ValidateArch("amd64") != nil || ValidateArch("arm64") != nil || ValidateArch("x86_64") == nil {
		t.Error("arch validation")
	}
}

func TestMinorVersion(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"1.31", "1.31", true},
		{"v1.31", "1.31", true},
		{"1.31.2", "1.31", true},
		{"v1.30.10", "1.30", true},
		{"1.x", "1.x", false},
		{"1.31.", "1.31.", false},
		{"", "", false},
		{"latest", "latest", false},
		{"2.0", "2.0", false},
	}
	for _, tt := range tests {
		if got, ok := MinorVersion(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("MinorVersion(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
