// Package kube holds what everything that talks to the cluster needs the
// same way: finding out whether the cluster answers, creating a namespace,
// and turning API errors into one line that says what to do.
package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ProbeTimeout bounds the check that the API server answers: a cluster
// that is down must fail fast, not hang.
const ProbeTimeout = 5 * time.Second

// Probe checks that the API server at cfg answers within ProbeTimeout.
func Probe(cfg *rest.Config) error {
	probe := rest.CopyConfig(cfg)
	probe.Timeout = ProbeTimeout
	cs, err := kubernetes.NewForConfig(probe)
	if err != nil {
		return err
	}
	if _, err := cs.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("the cluster at %s does not answer: %s", cfg.Host, OneLine(err.Error()))
	}
	return nil
}

// Kubeconfig returns the kubeconfig file to load: explicit (--kubeconfig)
// if set; else, unless $KUBECONFIG is set, fallback (ocne's `kubeconfig:`
// in defaults.yaml); else "", for which client-go reads $KUBECONFIG or
// ~/.kube/config. That is kubectl's rule with ocne's key slotted in
// before ~/.kube/config. (ocne itself lets its key beat $KUBECONFIG; a
// kubectl plugin must not: kubectl's $KUBECONFIG is what the user sees.)
func Kubeconfig(explicit, fallback string) string {
	if explicit != "" || os.Getenv(clientcmd.RecommendedConfigPathEnvVar) != "" {
		return explicit
	}
	return fallback
}

// EnsureNamespace creates ns unless it exists. Being forbidden to read it
// is not an error: the user may still be allowed to use it.
func EnsureNamespace(ctx context.Context, cs kubernetes.Interface, ns string) error {
	_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil || apierrors.IsForbidden(err) {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return Explain(err, "get", "namespaces")
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return &NamespaceError{Namespace: ns, Err: Explain(err, "create", "namespaces")}
	}
	return nil
}

// NamespaceError is a namespace that does not exist and could not be
// created.
type NamespaceError struct {
	Namespace string
	Err       error
}

func (e *NamespaceError) Error() string {
	return fmt.Sprintf("namespace %s does not exist and could not be created: %v", e.Namespace, e.Err)
}

func (e *NamespaceError) Unwrap() error { return e.Err }

// Explain turns an API error into one line that names what to do.
func Explain(err error, verb, resource string) error {
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("not allowed to %s %s: %w (see the Role in the README)", verb, resource, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the cluster did not answer in time: %w", err)
	}
	return err
}

// ControlPlaneRole labels control-plane nodes and, as a NoSchedule taint,
// keeps other pods off them (kubeadm sets both).
const ControlPlaneRole = "node-role.kubernetes.io/control-plane"

// ShortLivedTolerations let a short-lived pod of ours schedule where
// ocne's own in-cluster build does: on control-plane nodes (a cluster of
// only control planes is a stock one) and on nodes that are not ready,
// cordoned or unreachable, NoSchedule only. They are not for long-running
// workloads, which belong on healthy nodes.
func ShortLivedTolerations() []corev1.Toleration {
	var ts []corev1.Toleration
	for _, key := range []string{ControlPlaneRole, "node.kubernetes.io/not-ready",
		"node.kubernetes.io/unschedulable", "node.kubernetes.io/unreachable"} {
		ts = append(ts, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return ts
}

// Stuck reports container waiting reasons that waiting will not fix.
func Stuck(reason string) bool {
	switch reason {
	case "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
		"CreateContainerConfigError", "CreateContainerError", "RunContainerError", "CrashLoopBackOff":
		return true
	}
	return false
}

// ImagePullFailure reports whether a stuck reason is about the image.
func ImagePullFailure(reason string) bool {
	return reason == "ErrImagePull" || reason == "ImagePullBackOff" || reason == "InvalidImageName"
}

// OneLine folds a multi-line message (client-go's and the kubelet's often are).
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
