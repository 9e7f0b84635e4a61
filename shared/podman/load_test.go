package podman

import "testing"

// TestLoadsLocal: only a service on this host (a unix socket) that has the
// local load endpoint (Podman 5.7 and later) is handed a path.
func TestLoadsLocal(t *testing.T) {
	for _, tc := range []struct {
		url, version string
		want         bool
	}{
		{"unix:///run/podman/podman.sock", "5.8.2", true},
		{"unix:///run/podman/podman.sock", "5.7.0", true},
		{"unix:///run/podman/podman.sock", "5.7.0-dev", false}, // a pre-release of 5.7
		{"unix:///run/podman/podman.sock", "5.6.2", false},
		{"unix:///run/podman/podman.sock", "4.3.1", false},
		{"unix:///run/podman/podman.sock", "", false}, // no Libpod-API-Version header
		{"tcp://10.0.0.5:8888", "5.8.2", false},
		{"ssh://core@10.0.0.5/run/podman/podman.sock", "5.8.2", false},
	} {
		c := &Client{URL: tc.url, Version: tc.version}
		if got := c.loadsLocal(); got != tc.want {
			t.Errorf("%s, Podman %q: loadsLocal %v, want %v", tc.url, tc.version, got, tc.want)
		}
	}
}
