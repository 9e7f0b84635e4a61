package cmd

import (
	"strings"
	"testing"
)

// TestOcneFlags runs the commands with flags as an OCNE user types them
// for ocne: each refused one fails with exit 2 and one line saying what to
// type instead; versions as ocne's documentation writes them are taken,
// with a note. The accepted cases end at a bad --type or -o, so that
// nothing runs.
func TestOcneFlags(t *testing.T) {
	const (
		note131  = "note: Kubernetes version 1.31.2 taken as 1.31: OCK images are built per minor version\n"
		badType  = "error: unsupported --type \"bogus\": ostree is the only image type\n"
		kHint    = "error: -k is not a flag here (it is ocne's shorthand for --kubeconfig): use --kubeconfig /tmp/kc.conf\n"
		ociHint  = " is for ocne's uploads to OCI object storage; this upload copies the ostree image: use --destination TRANSPORT:REFERENCE\n"
		upload   = "upload -f ock.tar -d oci:/tmp/x"
		badInput = 2
	)
	tests := []struct {
		argv       string
		wantCode   int
		wantStderr string
	}{
		{"create -v 1.31", badInput, "error: -v means --verbose here, not ocne's --version: use --version 1.31\n"},
		{"create --local -v v1.31.2", badInput, "error: -v means --verbose here, not ocne's --version: use --version v1.31.2\n"},
		{"create -k /tmp/kc.conf", badInput, kHint},
		{"serve -k /tmp/kc.conf --image x", badInput, kHint},
		{"ignition join -k /tmp/kc.conf", badInput, kHint},
		{"create --version 1.31.2 --type bogus", badInput, note131 + badType},
		{"create --version v1.31 --type bogus", badInput,
			"note: Kubernetes version v1.31 taken as 1.31: OCK images are built per minor version\n" + badType},
		{"create --version 1.31 --type bogus", badInput, badType},
		{"create -vv --version 1.31 --type bogus", badInput, badType}, // -v is still --verbose
		{"create --version 1.x", badInput, "error: invalid Kubernetes version \"1.x\": want a minor version such as 1.33\n"},
		{upload + " -v 1.31", badInput, "error: -v means --verbose here, not ocne's --version: use --version 1.31\n"},
		{upload + " --version 1.31.2 -t ostree -a amd64 -o bogus", badInput, note131 + "error: invalid --output \"bogus\": use text or json\n"},
		{upload + " --bucket images", badInput, "error: --bucket" + ociHint},
		{upload + " -c ocid1.compartment.oc1..x", badInput, "error: --compartment" + ociHint},
		{upload + " -i boot-amd64", badInput, "error: --image-name" + ociHint},
		{upload + " -p DEFAULT", badInput, "error: --profile" + ociHint},
		{upload + " -k /tmp/kc.conf", badInput, "error: upload talks to no cluster: drop --kubeconfig\n"},
		{upload + " --config cluster.yaml", badInput, "error: upload reads no cluster configuration: drop --config\n"},
		{upload + " --type oci", badInput, "error: unsupported --type \"oci\": ostree is the only image type\n"},
	}
	for _, tt := range tests {
		t.Run(tt.argv, func(t *testing.T) {
			code, stdout, stderr := runPlugin(t, strings.Fields(tt.argv)...)
			if code != tt.wantCode || stderr != tt.wantStderr || stdout != "" {
				t.Errorf("exit %d, stdout %q\nstderr %q\nwant exit %d, stderr %q", code, stdout, stderr, tt.wantCode, tt.wantStderr)
			}
		})
	}
}
