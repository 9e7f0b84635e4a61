package cmd

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocne-image/ocne-image/shared/podman"
)

// TestFlagHints: the library's typed errors come out as the one line that
// names the flag to pass.
func TestFlagHints(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&podman.NotLoadedError{Image: "localhost/ock-ostree:latest", URL: "unix:///run/podman/podman.sock"},
			"image localhost/ock-ostree:latest is not loaded in Podman (unix:///run/podman/podman.sock): load it first with 'podman-ocne load --file ock-VERSION-ARCH-ostree.tar'"},
		{&podman.NameInUseError{Name: "ock-ostree", State: "running"},
			"a container named ock-ostree already exists (running): pass --replace, run 'podman-ocne stop --name ock-ostree', or pick another --name"},
		{&podman.ForeignError{Name: "web"},
			"container web was not started by podman-ocne (no " + podman.LabelRole + "=" + podman.RoleValue + " label): leaving it alone; remove it with 'podman rm -f web' or pick another --name"},
		{&podman.PortInUseError{Port: 8080},
			"port 8080 is already in use on this host: pick another with --port, or stop what listens there ('podman-ocne status', 'ss -ltnp sport = :8080')"},
		{podman.ErrNoDefaultRoute,
			"cannot tell this host's address: it has no default route; pass --advertise-address with the address nodes reach it at"},
		{errors.New("other"), "other"},
	}
	missing := "unix://" + filepath.Join(t.TempDir(), "podman.sock")
	_, err := podman.Connect(context.Background(), missing, time.Second)
	tests = append(tests, struct {
		err  error
		want string
	}{err, "no Podman service at " + missing + " (no such socket): start it with 'systemctl --user enable --now podman.socket' " +
		"(as root: 'systemctl enable --now podman.socket') or 'podman system service --time=0 &', or pass --url"})
	for _, tt := range tests {
		if got := flagHint(tt.err).Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}
