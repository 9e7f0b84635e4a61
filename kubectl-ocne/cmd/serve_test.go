package cmd

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// completeServe parses args into `serve` against a fake cluster and runs
// Complete and Validate.
func completeServe(t *testing.T, streams genericiooptions.IOStreams, objs []runtime.Object, args ...string) (*ServeOptions, error) {
	t.Helper()
	isolate(t)
	c, o := newCmdServe(streams)
	o.clients, _ = fakeClients(t, objs...)
	parseFlags(t, c, args...)
	if err := o.Complete(); err != nil {
		return o, err
	}
	return o, o.Validate()
}

func TestServeValidate(t *testing.T) {
	dir := t.TempDir()
	ks := testFile(t, dir, "ock.ks", "text\n")
	other := t.TempDir()
	ks2 := testFile(t, other, "ock.ks", "text\n")
	ign := testFile(t, dir, "worker.ign", "{}")
	img := []string{"--image", "reg.example.com/ock:1.33"}
	with := func(args ...string) []string { return append(append([]string{}, img...), args...) }
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no image", nil, "--image is required"},
		{"bad name", with("--name", "Ock"), `invalid --name "Ock"`},
		{"bad service type", with("--service-type", "External"), `invalid --service-type "External"`},
		{"bad ref", with("--ref", "a b"), "--ref: invalid ref name"},
		{"node port of a ClusterIP", with("--service-type", "ClusterIP", "--node-port", "30080"), "--node-port needs --service-type NodePort or LoadBalancer"},
		{"node port out of range", with("--node-port", "70000"), "invalid --node-port 70000"},
		{"a Kickstart named as auto's", with("--kickstart", ks, "--kickstart", "auto"), "would both be ock.ks"},
		{"a missing Kickstart named as auto's", with("--kickstart", "auto", "--kickstart", filepath.Join(dir, "x", "ock.ks")), "would both be ock.ks"},
		{"two Kickstarts of one name", with("--kickstart", ks, "--kickstart", ks2), "--kickstart: two files named ock.ks"},
		{"missing Kickstart", with("--kickstart", filepath.Join(dir, "none.ks")), "--kickstart: open "},
		{"missing Ignition", with("--ignition", filepath.Join(dir, "none.ign")), "--ignition: open "},
		{"bad Ignition file name", with("--kickstart", "auto", "--ignition-file", "a/b.ign"), `invalid --ignition-file "a/b.ign"`},
		{"no replicas", with("--replicas", "0"), "--replicas must be at least 1"},
		{"bad format", with("-o", "yaml"), `invalid --output "yaml"`},
		{"delete needs no image", []string{"--delete"}, ""},
		{"everything", with("--kickstart", "auto", "--ignition", ign, "--node-port", "30080", "--replicas", "3"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := completeServe(t, genericiooptions.NewTestIOStreamsDiscard(), nil, tt.args...)
			checkErr(t, err, tt.want, true)
		})
	}
}

func TestServeComplete(t *testing.T) {
	dir := t.TempDir()
	ign := testFile(t, dir, "worker.ign", "{}")
	o, err := completeServe(t, genericiooptions.NewTestIOStreamsDiscard(), nil,
		"--image", "i", "--kickstart", "auto", "--kickstart", testFile(t, dir, "a.ks", "a\n"), "--ignition", ign)
	if err != nil {
		t.Fatal(err)
	}
	if !o.auto || string(o.kickstarts["a.ks"]) != "a\n" || len(o.kickstarts) != 1 || string(o.ignitions["worker.ign"]) != "{}" || o.IgnitionFile != "worker.ign" {
		t.Errorf("auto %v, kickstarts %v, ignitions %v, ignition file %q", o.auto, o.kickstarts, o.ignitions, o.IgnitionFile)
	}
}

// TestServeDelete removes what serve made, found by its labels, and only that.
func TestServeDelete(t *testing.T) {
	labels := map[string]string{"app.kubernetes.io/managed-by": "ocne-image", "app.kubernetes.io/instance": "ock-ostree", "app.kubernetes.io/name": "ock-ostree"}
	ours := metav1.ObjectMeta{Namespace: DefaultNamespace, Name: "ock-ostree", Labels: labels}
	theirs := metav1.ObjectMeta{Namespace: DefaultNamespace, Name: "ock-ostree"}
	tests := []struct {
		name       string
		objs       []runtime.Object
		wantOut    string
		wantErrOut string
	}{
		{name: "nothing there", wantErrOut: "nothing named ock-ostree to delete in namespace ocne-system\n"},
		{name: "a Service of someone else's", objs: []runtime.Object{&corev1.Service{ObjectMeta: theirs}}, wantErrOut: "nothing named ock-ostree"},
		{name: "ours", objs: []runtime.Object{&appsv1.Deployment{ObjectMeta: ours}, &corev1.Service{ObjectMeta: ours}},
			wantOut: "deleted ocne-system/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streams, _, out, errOut := genericiooptions.NewTestIOStreams()
			o, err := completeServe(t, streams, tt.objs, "--delete")
			if err != nil {
				t.Fatal(err)
			}
			err = o.Run(context.Background())
			if err != nil || !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(errOut.String(), tt.wantErrOut) {
				t.Errorf("%v; stdout %q; stderr %q", err, out, errOut)
			}
		})
	}
}
