package ock

import (
	"strings"
	"testing"
)

func TestSourceReference(t *testing.T) {
	tests := []struct{ registry, tag, want, wantErr string }{
		{registry: DefaultRegistry, tag: "1.31", want: "docker://container-registry.oracle.com/olcne/ock-ostree:1.31"},
		{registry: "127.0.0.1:5000/olcne/ock-ostree", tag: "1.31", want: "docker://127.0.0.1:5000/olcne/ock-ostree:1.31"},
		{registry: "docker://quay.io/x/ock", tag: "1.32", want: "docker://quay.io/x/ock:1.32"},
		{registry: "ostree-unverified-registry:quay.io/x/ock", tag: "1.31", want: "ostree-unverified-registry:quay.io/x/ock:1.31"},
		{registry: "ftp://example.com/ock", tag: "1.31", want: "ftp://example.com/ock:1.31"},
		{registry: "quay.io/x/ock", tag: "", wantErr: "needs a tag"},
		// A file source is used as it is, or narrowed to the named image.
		{registry: "oci:/srv/layout", tag: "1.33", want: "oci:/srv/layout:1.33"},
		{registry: "oci:/srv/layout", tag: "", want: "oci:/srv/layout"},
		{registry: "oci-archive:/srv/ock.tar", tag: "", want: "oci-archive:/srv/ock.tar"},
		{registry: "ostree-unverified-image:oci-archive:/srv/ock.tar", tag: "1.31", want: "ostree-unverified-image:oci-archive:/srv/ock.tar:1.31"},
		{registry: "docker-archive:/srv/ock.tar", tag: "1.31", want: "docker-archive:/srv/ock.tar:1.31"},
		{registry: "dir:/srv/ock", tag: "", want: "dir:/srv/ock"},
		{registry: "dir:/srv/ock", tag: "1.31", wantErr: "holds exactly one image"},
		{registry: "oci:/srv/layout:1.31", tag: "1.32", wantErr: "already names an image"},
	}
	for _, tt := range tests {
		got, err := SourceReference(tt.registry, tt.tag)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("SourceReference(%q, %q) = %q, %v; want an error with %q", tt.registry, tt.tag, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("SourceReference(%q, %q) = %q, %v; want %q", tt.registry, tt.tag, got, err, tt.want)
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

// Every version we offer has its release, and nothing else does.
func TestReleaseOf(t *testing.T) {
	for _, v := range Versions {
		r, err := ReleaseOf(v)
		if err != nil || !strings.HasPrefix(r.Kubernetes, v+".") || r.Etcd == "" || r.CoreDNS == "" {
			t.Errorf("ReleaseOf(%s) = %+v, %v", v, r, err)
		}
	}
	if r, err := ReleaseOf("v1.31.2"); err != nil || r.Kubernetes != "1.31.0" {
		t.Errorf("ReleaseOf(v1.31.2) = %+v, %v", r, err)
	}
	for _, v := range []string{"1.27", "1.34", "2.0", ""} {
		if _, err := ReleaseOf(v); err == nil || !strings.Contains(err.Error(), "no OCK image") {
			t.Errorf("ReleaseOf(%q): %v", v, err)
		}
	}
}
