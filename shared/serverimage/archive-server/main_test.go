package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		name        string
		args        []string
		code        int
		out, errOut string // substrings
	}{
		{"help", []string{"-h"}, 0, "--part-cache-mib N", ""},
		{"version", []string{"--version"}, 0, "archive-server ", ""},
		{"unknown flag", []string{"--nope"}, 2, "", "archive-server: flag provided but not defined: -nope"},
		{"argument", []string{"x"}, 2, "", `archive-server: unexpected argument "x"`},
		{"negative cache", []string{"--object-cache-mib", "-1"}, 2, "", "--object-cache-mib -1: must be 0 (off) or more"},
		{"negative part cache", []string{"--part-cache-mib", "-5"}, 2, "", "--part-cache-mib -5: must be 0 (off) or more"},
		{"part cache not a number", []string{"--part-cache-mib", "lots"}, 2, "", `invalid value "lots" for flag -part-cache-mib`},
		{"no root", []string{"--root", root + "/nope"}, 1, "", "no such directory; mount the archive at /usr/share/nginx/html or pass --root"},
		{"bad listen address", []string{"--root", root, "--listen", "127.0.0.1:-1"}, 1, "", "archive-server: listen tcp"},
		// A cancelled context: starts, then shuts down cleanly.
		{"serves", []string{"--root", root, "--listen", "127.0.0.1:0", "--object-cache-mib", "0", "--part-cache-mib", "0"}, 0, "", "archive-server: serving " + root},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var out, errOut bytes.Buffer
			code := run(ctx, tc.args, &out, &errOut)
			if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errOut.String(), tc.errOut) {
				t.Errorf("run(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
					tc.args, code, out.String(), errOut.String(), tc.code, tc.out, tc.errOut)
			}
			if tc.code != 0 && strings.Count(strings.TrimSpace(errOut.String()), "\n") > 0 {
				t.Errorf("error is more than one line: %q", errOut.String())
			}
		})
	}
}
