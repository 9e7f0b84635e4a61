package clusterserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/ocne-image/ocne-image/shared/kube"
)

// Annotations that record what was published into a server's Ignition
// Secret, beside the files `serve --ignition` put there.
const (
	// expiresAnnotation maps published names to their token's expiry
	// (JSON: name -> RFC 3339); one annotation, because published names
	// may be longer than an annotation key allows.
	expiresAnnotation = "ocne-image/published-expires"
	// ignitionHashAnnotation on the pod template rolls the pods when the
	// Secret changes, instead of waiting for the kubelet's volume refresh.
	ignitionHashAnnotation = "ocne-image/ignition-hash"
)

// ErrNoServer: there is no `serve` deployment of that name to publish to.
var ErrNoServer = errors.New("no archive server")

// Published is one Ignition file a server serves.
type Published struct {
	Name    string
	URL     string
	Expires time.Time // zero: never, or not published through PutIgnition
}

// Target names a server made by Apply, and how nodes reach it.
type Target struct {
	Namespace, Name string
	// Address overrides the host nodes reach the Service at, as
	// Options.Address does.
	Address string
	Timeout time.Duration // for the rollout that serves a change
}

// PutIgnition adds (or replaces) the Ignition file name in the server's
// Secret, rolls the pods so it is served at once, and returns its URL.
func PutIgnition(ctx context.Context, cs kubernetes.Interface, t Target, name string, data []byte, expires time.Time) (string, error) {
	err := t.updateSecret(ctx, cs, func(s *corev1.Secret, exp map[string]string) {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[name] = data
		delete(exp, name)
		if !expires.IsZero() {
			exp[name] = expires.UTC().Format(time.RFC3339)
		}
	})
	if err != nil {
		return "", err
	}
	base, err := t.baseURL(ctx, cs)
	if err != nil {
		return "", err
	}
	return base + "/ignition/" + name, nil
}

// DeleteIgnition removes the Ignition file name from the server.
func DeleteIgnition(ctx context.Context, cs kubernetes.Interface, t Target, name string) error {
	var found bool
	err := t.updateSecret(ctx, cs, func(s *corev1.Secret, exp map[string]string) {
		_, found = s.Data[name]
		delete(s.Data, name)
		delete(exp, name)
	})
	if err == nil && !found {
		return fmt.Errorf("%s is not served by %s/%s: %w", name, t.Namespace, t.Name, errNotPublished)
	}
	return err
}

// errNotPublished is wrapped by DeleteIgnition for an unknown name;
// callers map it to their own not-found error with errors.Is.
var errNotPublished = errors.New("not published")

// IsNotPublished reports DeleteIgnition's unknown-name error.
func IsNotPublished(err error) bool { return errors.Is(err, errNotPublished) }

// ListIgnition lists the Ignition files the server serves.
func ListIgnition(ctx context.Context, cs kubernetes.Interface, t Target) ([]Published, error) {
	s, err := t.secret(ctx, cs)
	if err != nil {
		return nil, err
	}
	exp := expiries(s)
	base, err := t.baseURL(ctx, cs)
	if err != nil {
		return nil, err
	}
	var out []Published
	for _, n := range slices.Sorted(maps.Keys(s.Data)) {
		p := Published{Name: n, URL: base + "/ignition/" + n}
		if e, ok := exp[n]; ok {
			p.Expires, _ = time.Parse(time.RFC3339, e)
		}
		out = append(out, p)
	}
	return out, nil
}

// CheckServer reports whether t names a server Apply made.
func CheckServer(ctx context.Context, cs kubernetes.Interface, t Target) error {
	_, err := t.secret(ctx, cs)
	return err
}

func (t Target) secret(ctx context.Context, cs kubernetes.Interface) (*corev1.Secret, error) {
	s, err := cs.CoreV1().Secrets(t.Namespace).Get(ctx, t.Name+"-ignition", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w %s in namespace %s: run `kubectl ocne-image serve` first, or name it with the name and namespace options", ErrNoServer, t.Name, t.Namespace)
	}
	if err != nil {
		return nil, kube.Explain(err, "get", "secrets")
	}
	return s, nil
}

func expiries(s *corev1.Secret) map[string]string {
	exp := map[string]string{}
	if v := s.Annotations[expiresAnnotation]; v != "" {
		json.Unmarshal([]byte(v), &exp)
	}
	return exp
}

// updateSecret changes the Secret (retrying on a concurrent change), then
// rolls the Deployment onto it and waits until it serves.
func (t Target) updateSecret(ctx context.Context, cs kubernetes.Interface, change func(*corev1.Secret, map[string]string)) error {
	var data map[string][]byte
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := t.secret(ctx, cs)
		if err != nil {
			return err
		}
		exp := expiries(s)
		change(s, exp)
		b, _ := json.Marshal(exp)
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[expiresAnnotation] = string(b)
		s, err = cs.CoreV1().Secrets(t.Namespace).Update(ctx, s, metav1.UpdateOptions{FieldManager: FieldManager + "-publish"})
		if err == nil {
			data = s.Data
		}
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNoServer) {
			return err
		}
		return kube.Explain(err, "update", "secrets")
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{ignitionHashAnnotation: filesHash(data)}}}}})
	if _, err := cs.AppsV1().Deployments(t.Namespace).Patch(ctx, t.Name, types.StrategicMergePatchType, patch,
		metav1.PatchOptions{FieldManager: FieldManager + "-publish"}); err != nil {
		return kube.Explain(err, "patch", "deployments")
	}
	s := &server{cs: cs, opts: Options{Namespace: t.Namespace, Name: t.Name, Timeout: t.Timeout}}
	if s.opts.Timeout == 0 {
		s.opts.Timeout = 2 * time.Minute
	}
	if err := s.waitRolledOut(ctx); err != nil {
		return err
	}
	// Replaced pods keep answering through their drain delay: an
	// unpublished config is gone only once they are.
	return s.waitTerminated(ctx)
}

func (t Target) baseURL(ctx context.Context, cs kubernetes.Interface) (string, error) {
	svc, err := cs.CoreV1().Services(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
	if err != nil {
		return "", kube.Explain(err, "get", "services")
	}
	s := &server{cs: cs, opts: Options{Namespace: t.Namespace, Name: t.Name, Address: t.Address}}
	res, err := s.urls(ctx, svc)
	if err != nil {
		return "", err
	}
	return res.BaseURL, nil
}
