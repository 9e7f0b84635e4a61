package cmd

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestFlagSpellings parses each command's flags as users type them, the
// spellings of the flag contract and the deprecated ones it replaced
// (which work for one release, with a warning on stderr): -o/--output is
// the output format everywhere, a file to write is --output-file, the
// registry credentials file is --authfile, -v is a count.
func TestFlagSpellings(t *testing.T) {
	const (
		oFile        = "warning: -o FILE is deprecated; use --output-file FILE\n"
		outputFormat = "Flag --output-format has been deprecated, use -o/--output\n"
		registryAuth = "Flag --registry-auth has been deprecated, use --authfile\n"
	)
	text, json := map[string]string{"output": "text"}, map[string]string{"output": "json"}
	file := func(format, f string) map[string]string { return map[string]string{"output": format, "output-file": f} }
	verbose := func(n int) map[string]string { return map[string]string{"verbose": strconv.Itoa(n)} }
	tests := []struct {
		args     string
		want     map[string]string // flag: value once parsed
		wantWarn string            // all of stderr
	}{
		{"create", file("text", ""), ""},
		{"create -o json --output-file ock.tar", file("json", "ock.tar"), ""},
		{"create --output=json", json, ""},
		{"create -o ock.tar", file("text", "ock.tar"), oFile},
		{"create --output ock.tar --output-format json", file("json", "ock.tar"), oFile + outputFormat},
		{"create --output-format json", json, outputFormat},
		{"kickstart -o json --output-file w.ks", file("json", "w.ks"), ""},
		{"kickstart -o w.ks --output-format json", file("json", "w.ks"), oFile + outputFormat},
		{"ignition join -o json --output-file w.ign", file("json", "w.ign"), ""},
		{"ignition join -o w.ign", file("text", "w.ign"), oFile},
		{"ignition init -o json --output-file cp.ign", file("json", "cp.ign"), ""},
		{"ignition init -o cp.ign", file("text", "cp.ign"), oFile},
		{"builder-image -o json --output-file b.tar", file("json", "b.tar"), ""},
		{"builder-image --output b.tar", file("text", "b.tar"), oFile},
		{"upload -o json", json, ""},
		{"upload --output-format json", json, outputFormat},
		{"encapsulate -o json", json, ""},
		{"encapsulate --output-format json", json, outputFormat},
		{"version -o json", json, ""},
		{"version --output-format json", json, outputFormat},
		{"serve -o json", json, ""},
		{"ignition publish --output json", json, ""},
		{"ignition list", text, ""},
		{"plugins list -o json", json, ""},

		// One name for the registry credentials file: Podman's and skopeo's.
		{"create --authfile auth.json", map[string]string{"authfile": "auth.json"}, ""},
		{"create --registry-auth auth.json", map[string]string{"authfile": "auth.json"}, registryAuth},
		{"upload --authfile auth.json", map[string]string{"authfile": "auth.json"}, ""},
		{"upload --registry-auth auth.json", map[string]string{"authfile": "auth.json"}, registryAuth},

		// -v is a count, as in kubectl and podman-ocne.
		{"create -vv", verbose(2), ""},
		{"upload -v", verbose(1), ""},
		{"kickstart --verbose=3", verbose(3), ""},
		{"serve -v -v", verbose(2), ""},
		{"ignition join -vvv", verbose(3), ""},
		{"ignition init -v", verbose(1), ""},
		{"ignition publish -vv", verbose(2), ""},
		{"ignition list --verbose", verbose(1), ""},
		{"ignition unpublish -v", verbose(1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			var stderr bytes.Buffer
			root := NewCmdOcneImage(genericiooptions.NewTestIOStreamsDiscard())
			root.SetErr(&stderr)
			c, args, err := root.Find(strings.Fields(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			c.Flags().SetOutput(&stderr)
			if err := c.ParseFlags(args); err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				f := c.Flags().Lookup(name)
				if f == nil {
					t.Fatalf("no --%s", name)
				}
				if got := f.Value.String(); got != want {
					t.Errorf("--%s %q, want %q", name, got, want)
				}
			}
			if stderr.String() != tt.wantWarn {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.wantWarn)
			}
		})
	}
}

// TestOutputFlagMistakes: what the flags cannot mean fails before any
// work, as a usage error in one line.
func TestOutputFlagMistakes(t *testing.T) {
	const oFile = "warning: -o FILE is deprecated; use --output-file FILE\n"
	tests := []struct {
		args       string
		wantStderr string
	}{
		{"create --local -o a.tar --output-file b.tar", oFile + "error: -o a.tar and --output-file b.tar: pass the file once, as --output-file\n"},
		{"kickstart --ostree-url http://x/ostree --ignition-url http://x/w.ign --output-file b.ks -o a.ks",
			oFile + "error: -o a.ks and --output-file b.ks: pass the file once, as --output-file\n"},
		{"create --local --output-format yaml", "Flag --output-format has been deprecated, use -o/--output\nerror: invalid --output-format \"yaml\": use text or json\n"},
		{"upload -f a.tar -d oci:/tmp/x -o a.json", "error: invalid --output \"a.json\": use text or json\n"},
		{"ignition join -o json", "error: -o json needs --output-file or --publish: standard output would hold both the Ignition config and the JSON\n"},
		{"builder-image -o json", "error: pass one of --registry, --destination and --output-file\n"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			code, stdout, stderr := runPlugin(t, strings.Fields(tt.args)...)
			if code != 2 || stderr != tt.wantStderr || stdout != "" {
				t.Errorf("exit %d, stdout %q\nstderr %q\nwant exit 2, stderr %q", code, stdout, stderr, tt.wantStderr)
			}
		})
	}
}
