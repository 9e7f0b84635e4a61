package builderimage

import (
	"strings"
	"testing"

	"go.podman.io/image/v5/docker/reference"
)

func TestIn(t *testing.T) {
	for _, tc := range []struct{ registry, version, want string }{
		{Registry, "v1.2.3", "ghcr.io/ocne-image/ocne-image-builder:v1.2.3"},
		{"registry.example.com:5000", "v1.2.3", "registry.example.com:5000/ocne-image/ocne-image-builder:v1.2.3"},
		{"registry.example.com/mirror/", "v1.2.3", "registry.example.com/mirror/ocne-image/ocne-image-builder:v1.2.3"},
		{Registry, "053e807-dirty", "ghcr.io/ocne-image/ocne-image-builder:053e807-dirty"},
		{Registry, "dev", "ghcr.io/ocne-image/ocne-image-builder:dev"},
		{Registry, "v1.0.0+build.7", "ghcr.io/ocne-image/ocne-image-builder:v1.0.0-build.7"},
		{Registry, "", "ghcr.io/ocne-image/ocne-image-builder:dev"},
		{Registry, "-x", "ghcr.io/ocne-image/ocne-image-builder:dev-x"},
		{Registry, strings.Repeat("a", 200), "ghcr.io/ocne-image/ocne-image-builder:" + strings.Repeat("a", 128)},
	} {
		got := In(tc.registry, tc.version)
		if got != tc.want {
			t.Errorf("In(%q, %q) = %q, want %q", tc.registry, tc.version, got, tc.want)
		}
		// What containerd and containers/image accept.
		if _, err := reference.ParseNormalizedNamed(got); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
	if Default("v1.2.3") != In(Registry, "v1.2.3") {
		t.Error("Default is not the image in Registry")
	}
}
