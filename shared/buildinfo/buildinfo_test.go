package buildinfo

import "testing"

func TestIsRelease(t *testing.T) {
	for v, want := range map[string]bool{
		"v1.2.3": true, "v0.1.0-rc.2": true, "v10.0.1-beta.1": true,
		"dev": false, "053e807": false, "053e807-dirty": false, "v1.2.3-dirty": false,
		"v1.2.3-4-g053e807": false, "v0.0.0-053e807": false, "1.2.3": false, "": false,
	} {
		if got := IsRelease(v); got != want {
			t.Errorf("IsRelease(%q) = %v, want %v", v, got, want)
		}
	}
}
