// Package certupload gets the control-plane certificates into the cluster
// under a certificate key, so that a node joining as a control plane can
// fetch them: what `kubeadm init phase upload-certs` does, run on an
// existing control-plane node through a short-lived privileged pod.
package certupload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/ocne-image/ocne-image/shared/kube"
)

// NewKey returns a fresh certificate key: 32 random bytes in hex, the
// AES-256 key kubeadm encrypts the uploaded certificates with.
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate certificate key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Command is what to run on a control-plane node instead of Upload.
func Command(key string) string {
	return "kubeadm init phase upload-certs --upload-certs --certificate-key " + key
}

// Defaults for where kubeadm and its files are on an OCK control-plane node.
const (
	DefaultKubeadm       = "/usr/bin/kubeadm"
	DefaultKubernetesDir = "/etc/kubernetes"
	ManagedBy            = "ocne-image"
)

// Options say where and how to run the upload.
type Options struct {
	Key string
	// Image runs the node's own kubeadm binary (mounted from the host),
	// so any image works, even one FROM scratch like the builder image.
	Image string
	// Host paths on the control-plane node; the defaults are OCK's.
	Kubeadm, KubernetesDir string
	// Node pins the pod to one node; "" lets the scheduler pick a
	// control-plane node.
	Node      string
	Namespace string // default kube-system
	Timeout   time.Duration
}

// Upload runs kubeadm init phase upload-certs in a privileged pod on a
// control-plane node (it reads the CA keys from the host) and deletes the
// pod and the Secret holding the key afterwards, also when ctx is
// cancelled. The key reaches kubeadm through a Secret, never the pod spec.
func Upload(ctx context.Context, cs kubernetes.Interface, o Options) (err error) {
	if o.Namespace == "" {
		o.Namespace = metav1.NamespaceSystem
	}
	if o.Kubeadm == "" {
		o.Kubeadm = DefaultKubeadm
	}
	if o.KubernetesDir == "" {
		o.KubernetesDir = DefaultKubernetesDir
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Minute
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": ManagedBy, "app.kubernetes.io/component": "upload-certs"}
	secret, err := cs.CoreV1().Secrets(o.Namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "ocne-upload-certs-", Labels: labels},
		Data:       map[string][]byte{"key": []byte(o.Key)},
	}, metav1.CreateOptions{})
	if err != nil {
		return explain(err, "secrets", o.Namespace)
	}
	cleanup := context.WithoutCancel(ctx)
	defer cs.CoreV1().Secrets(o.Namespace).Delete(cleanup, secret.Name, metav1.DeleteOptions{})
	pod, err := cs.CoreV1().Pods(o.Namespace).Create(ctx, o.pod(secret.Name, labels), metav1.CreateOptions{})
	if err != nil {
		return explain(err, "pods", o.Namespace)
	}
	defer cs.CoreV1().Pods(o.Namespace).Delete(cleanup, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})

	var last *corev1.Pod
	werr := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, o.Timeout, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(o.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = p
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
	})
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("upload-certs interrupted; the pod was deleted")
	case werr != nil:
		return fmt.Errorf("upload-certs pod %s/%s did not finish within %s (%s); check that a control-plane node can run it", o.Namespace, pod.Name, o.Timeout, state(last))
	case last.Status.Phase == corev1.PodFailed:
		return fmt.Errorf("kubeadm upload-certs failed on node %s: %s", last.Spec.NodeName, tail(ctx, cs, last))
	}
	return nil
}

func (o Options) pod(secretName string, labels map[string]string) *corev1.Pod {
	file, dir := corev1.HostPathFile, corev1.HostPathDirectory
	spec := corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		// admin.conf may name the API server by the node's own address.
		HostNetwork:  true,
		NodeName:     o.Node,
		NodeSelector: map[string]string{kube.ControlPlaneRole: ""},
		// Host network, so it runs on a control plane that is not ready
		// (no CNI yet) or cordoned as well: the join must not wait for that.
		Tolerations: kube.ShortLivedTolerations(),
		Containers: []corev1.Container{{
			Name:    "upload-certs",
			Image:   o.Image,
			Command: []string{"/ocne/kubeadm"},
			Args: []string{"init", "phase", "upload-certs", "--upload-certs", "--certificate-key", "$(CERTIFICATE_KEY)",
				"--kubeconfig", "/etc/kubernetes/admin.conf", "--skip-certificate-key-print"},
			Env: []corev1.EnvVar{{Name: "CERTIFICATE_KEY", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secretName}, Key: "key"},
			}}},
			// Root and privileged: the CA keys on the host are root's, 0600.
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true), RunAsUser: ptr.To[int64](0)},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "kubeadm", MountPath: "/ocne/kubeadm", ReadOnly: true},
				{Name: "kubernetes", MountPath: "/etc/kubernetes", ReadOnly: true},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: "kubeadm", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: o.Kubeadm, Type: &file}}},
			{Name: "kubernetes", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: o.KubernetesDir, Type: &dir}}},
		},
	}
	if o.Node != "" {
		spec.NodeSelector = nil
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "ocne-upload-certs-", Labels: labels}, Spec: spec}
}

// state names why a pod is not done: its phase and a waiting reason.
func state(p *corev1.Pod) string {
	if p == nil {
		return "no status"
	}
	s := string(p.Status.Phase)
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil {
			s += ", " + w.Reason
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			s += ", unschedulable: " + c.Message
		}
	}
	return s
}

// tail is the last line of the pod's log, where kubeadm says what failed.
func tail(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) string {
	rc, err := cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: ptr.To[int64](5)}).Stream(ctx)
	if err != nil {
		return "no log: " + err.Error()
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	lines := strings.Split(strings.TrimSpace(string(bytes.ToValidUTF8(b, nil))), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// ForbiddenError says the upload pod's objects may not be created here:
// the kubeadm command Command prints does the upload on a node instead.
type ForbiddenError struct{ Resource, Namespace string }

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("upload-certs: not allowed to create %s in %s", e.Resource, e.Namespace)
}

func explain(err error, resource, ns string) error {
	if apierrors.IsForbidden(err) {
		return &ForbiddenError{Resource: resource, Namespace: ns}
	}
	return fmt.Errorf("upload-certs: create %s in %s: %w", resource, ns, err)
}
