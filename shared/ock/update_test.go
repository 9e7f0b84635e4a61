package ock

import (
	"strings"
	"testing"
)

// What the node's ocne-update.sh gets in update.yaml for each osRegistry
// form ocne accepts; a tag anywhere is refused.
func TestUpdateSource(t *testing.T) {
	tests := []struct {
		in, transport, repo, wantErr string
	}{
		{in: DefaultRegistry, transport: "ostree-unverified-registry", repo: DefaultRegistry},
		{in: "127.0.0.1:5000/olcne/ock-ostree", transport: "ostree-unverified-registry", repo: "127.0.0.1:5000/olcne/ock-ostree"},
		{in: "ostree-unverified-registry:reg.example.com/ock", transport: "ostree-unverified-registry", repo: "reg.example.com/ock"},
		{in: "docker://reg.example.com/ock", transport: "ostree-unverified-registry", repo: "reg.example.com/ock"},
		{in: "ostree-unverified-image:docker://reg.example.com/ock", transport: "ostree-unverified-image:docker://", repo: "reg.example.com/ock"},
		{in: "ostree-unverified-image:registry:reg.example.com/ock", transport: "ostree-unverified-image:registry", repo: "reg.example.com/ock"},
		{in: "ostree-image-signed:docker://reg.example.com/ock", transport: "ostree-image-signed:docker://", repo: "reg.example.com/ock"},
		{in: "ostree-unverified-image:oci:/var/ock", transport: "ostree-unverified-image:oci", repo: "/var/ock"},
		{in: "ostree-remote-image:ock:docker://reg.example.com/ock", transport: "ostree-remote-image:ock:docker://", repo: "reg.example.com/ock"},
		{in: "reg.example.com/ock:1.31", wantErr: "carries a tag"},
		{in: "ostree-unverified-registry:reg.example.com:5000/ock:1.31", wantErr: "carries a tag"},
		{in: "ostree-unverified-image:docker://reg.example.com/ock:1.31", wantErr: "carries a tag"},
		{in: "reg.example.com/ock@sha256:" + strings.Repeat("a", 64), wantErr: "carries a digest"},
		{in: "oci:/srv/layout", wantErr: "pulls its updates from a registry"},
		{in: "ostree-unverified-image:dir:/x", wantErr: "transports"},
		{in: "ostree-remote-image:docker://x", wantErr: "REMOTE"},
		{in: "Reg.Example.com/OCK", wantErr: "invalid osRegistry"},
		{in: "", wantErr: "empty"},
	}
	for _, tt := range tests {
		tr, repo, err := UpdateSource(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("UpdateSource(%q) = %q, %q, %v; want one line with %q", tt.in, tr, repo, err, tt.wantErr)
			}
			continue
		}
		if err != nil || tr != tt.transport || repo != tt.repo {
			t.Errorf("UpdateSource(%q) = %q, %q, %v; want %q, %q", tt.in, tr, repo, err, tt.transport, tt.repo)
		}
	}
}
