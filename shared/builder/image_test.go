package builder

import (
	"strings"
	"testing"

	"go.podman.io/image/v5/docker/reference"
)

func TestImageIn(t *testing.T) {
	for _, tc := range []struct{ registry, version, want string }{
		{ImageRegistry, "v1.2.3", "ghcr.io/ocne-image/ocne-image-builder:v1.2.3"},
		{"registry.example.com:5000", "v1.2.3", "registry.example.com:5000/ocne-image/ocne-image-builder:v1.2.3"},
		{"registry.example.com/mirror/", "v1.2.3", "registry.example.com/mirror/ocne-image/ocne-image-builder:v1.2.3"},
		{ImageRegistry, "053e807-dirty", "ghcr.io/ocne-image/ocne-image-builder:053e807-dirty"},
		{ImageRegistry, "dev", "ghcr.io/ocne-image/ocne-image-builder:dev"},
		{ImageRegistry, "v1.0.0+build.7", "ghcr.io/ocne-image/ocne-image-builder:v1.0.0-build.7"},
		{ImageRegistry, "", "ghcr.io/ocne-image/ocne-image-builder:dev"},
		{ImageRegistry, "-x", "ghcr.io/ocne-image/ocne-image-builder:dev-x"},
		{ImageRegistry, strings.Repeat("a", 200), "ghcr.io/ocne-image/ocne-image-builder:" + strings.Repeat("a", 128)},
	} {
		got := ImageIn(tc.registry, tc.version)
		if got != tc.want {
			t.Errorf("ImageIn(%q, %q) = %q, want %q", tc.registry, tc.version, got, tc.want)
		}
		// What containerd and containers/image accept.
		if _, err := reference.ParseNormalizedNamed(got); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
	if DefaultImage("v1.2.3") != ImageIn(ImageRegistry, "v1.2.3") {
		t.Error("DefaultImage is not the image in ImageRegistry")
	}
}
