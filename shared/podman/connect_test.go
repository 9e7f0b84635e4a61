package podman

import "testing"

func TestSocketURL(t *testing.T) {
	const rootless = "/run/user/1000/podman/podman.sock"
	for _, tc := range []struct {
		name, flag, host, xdg string
		exists                bool
		want                  string
	}{
		{name: "flag wins", flag: "unix:///f.sock", host: "tcp://h:1", xdg: "/run/user/1000", exists: true, want: "unix:///f.sock"},
		{name: "then CONTAINER_HOST", host: "ssh://u@h/run/podman/podman.sock", xdg: "/run/user/1000", exists: true, want: "ssh://u@h/run/podman/podman.sock"},
		{name: "then the rootless socket", xdg: "/run/user/1000", exists: true, want: "unix://" + rootless},
		{name: "rootless socket absent", xdg: "/run/user/1000", want: "unix://" + RootfulSocket},
		{name: "no XDG_RUNTIME_DIR", exists: true, want: "unix://" + RootfulSocket},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"CONTAINER_HOST": tc.host, "XDG_RUNTIME_DIR": tc.xdg}
			got := SocketURL(tc.flag, func(k string) string { return env[k] }, func(p string) bool { return tc.exists && p == rootless })
			if got != tc.want {
				t.Errorf("SocketURL = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"unix:///run/podman/podman.sock", true},
		{"tcp://127.0.0.1:8888", true},
		{"ssh://core@host:22/run/podman/podman.sock", true},
		{"/run/podman/podman.sock", false},
		{"http://host:8080", false},
		{"::", false},
	} {
		if err := CheckURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}
