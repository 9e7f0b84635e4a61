package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFiles runs the real command with a home holding
// ~/.ocne/ocne-image.yaml and ~/.ocne/defaults.yaml: our keys take effect
// from either, from defaults.yaml with one warning, and a bad file of ours
// fails in one line with nothing written.
func TestConfigFiles(t *testing.T) {
	tests := []struct {
		name          string
		defaults, own string
		env           bool // name our file through OCNE_IMAGE_CONFIG instead
		wantCode      int
		wantOut       string // in the Kickstart file
		wantErr       string // all of stderr, HOME standing for the home
	}{
		{name: "our file", own: "kickstart:\n  timezone: Asia/Tokyo\n", wantOut: "\ntimezone Asia/Tokyo --utc\n"},
		{name: "our file through OCNE_IMAGE_CONFIG", own: "kickstart:\n  timezone: Asia/Tokyo\n", env: true, wantOut: "\ntimezone Asia/Tokyo --utc\n"},
		{
			name: "our key in defaults.yaml works and warns", defaults: "osTag: \"1.31\"\nkickstart:\n  timezone: Europe/Paris\n",
			wantOut: "\ntimezone Europe/Paris --utc\n",
			wantErr: "warning: HOME/.ocne/defaults.yaml holds keys ocne does not know, which make every ocne command fail: move kickstart to HOME/.ocne/ocne-image.yaml\n",
		},
		{
			name: "our file beats defaults.yaml", defaults: "kubernetesVersion: 1.30\n", own: "kickstart:\n  timezone: Asia/Tokyo\n  lang: de_DE.UTF-8\n",
			wantOut: "\nlang de_DE.UTF-8\ntimezone Asia/Tokyo --utc\n",
		},
		{
			name: "unknown key in our file", own: "kickstart:\n  timezone: Asia/Tokyo\ntimezone: UTC\n", wantCode: 2,
			wantErr: "error: config HOME/.ocne/ocne-image.yaml line 3: unknown key timezone; remove it or fix its spelling (the keys are in the README)\n",
		},
		{
			name: "our file is not YAML", own: "\x00\x01 binary junk", wantCode: 2,
			wantErr: "error: config HOME/.ocne/ocne-image.yaml: control characters are not allowed; fix the YAML or move the file away\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			os.Mkdir(filepath.Join(home, ".ocne"), 0o755)
			ownPath := filepath.Join(home, ".ocne", "ocne-image.yaml")
			if tt.env {
				ownPath = filepath.Join(t.TempDir(), "elsewhere.yaml")
			}
			for path, content := range map[string]string{filepath.Join(home, ".ocne", "defaults.yaml"): tt.defaults, ownPath: tt.own} {
				if content != "" {
					os.WriteFile(path, []byte(content), 0o644)
				}
			}
			var env map[string]string
			if tt.env {
				env = map[string]string{"OCNE_IMAGE_CONFIG": ownPath}
			}
			out := filepath.Join(t.TempDir(), "w.ks")
			code, stdout, stderr := runPluginIn(t, home, env, append(append([]string{}, ksArgs...), "--output-file", out)...)
			if want := strings.ReplaceAll(tt.wantErr, "HOME", home); code != tt.wantCode || stderr != want || stdout != "" {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant exit %d, stderr %q", code, stdout, stderr, tt.wantCode, want)
			}
			b, err := os.ReadFile(out)
			if tt.wantCode != 0 {
				if err == nil {
					t.Errorf("%s written on failure", out)
				}
				return
			}
			if !strings.Contains(string(b), tt.wantOut) {
				t.Errorf("Kickstart lacks %q:\n%s", tt.wantOut, b)
			}
		})
	}
}
