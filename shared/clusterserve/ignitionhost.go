package clusterserve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
)

// IgnitionHost is the built-in `cluster` Ignition hosting backend: it
// publishes into the Ignition Secret of an archive server that
// `kubectl ocne-image serve` runs, which serves it at /ignition/ from every
// replica. Options: namespace (default ocne-system), name (default
// ock-ostree: serve's --name), address (serve's --address), kubeconfig and
// context (default: kubectl's). It lives here, not in pluginhost, so
// that the plugin host and the conformance suite link no Kubernetes code
// unless a command injects this backend.
type IgnitionHost struct{}

func (IgnitionHost) open(options map[string]string) (kubernetes.Interface, Target, error) {
	t := Target{Namespace: "ocne-system", Name: "ock-ostree", Address: options["address"]}
	if v := options["namespace"]; v != "" {
		t.Namespace = v
	}
	if v := options["name"]; v != "" {
		t.Name = v
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = options["kubeconfig"]
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: options["context"]}).ClientConfig()
	if err != nil {
		return nil, t, fmt.Errorf("kubeconfig for the cluster backend: %v: %w", err, ignitionhost.ErrInvalidOptions)
	}
	cfg.Timeout = 30 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, t, err
}

func (h IgnitionHost) Publish(ctx context.Context, r ignitionhost.PublishRequest) (string, error) {
	cs, t, err := h.open(r.Options)
	if err != nil {
		return "", err
	}
	return PutIgnition(ctx, cs, t, r.Name, r.Config, r.Expires)
}

func (h IgnitionHost) Unpublish(ctx context.Context, name string, options map[string]string) error {
	cs, t, err := h.open(options)
	if err != nil {
		return err
	}
	err = DeleteIgnition(ctx, cs, t, name)
	if IsNotPublished(err) {
		return fmt.Errorf("%v: %w", err, ignitionhost.ErrNotFound)
	}
	return err
}

func (h IgnitionHost) List(ctx context.Context, options map[string]string) ([]ignitionhost.Entry, error) {
	cs, t, err := h.open(options)
	if err != nil {
		return nil, err
	}
	files, err := ListIgnition(ctx, cs, t)
	if err != nil {
		return nil, err
	}
	entries := make([]ignitionhost.Entry, 0, len(files))
	for _, f := range files {
		entries = append(entries, ignitionhost.Entry{Name: f.Name, URL: f.URL, Expires: f.Expires})
	}
	return entries, nil
}

func (h IgnitionHost) Health(ctx context.Context, options map[string]string) error {
	cs, t, err := h.open(options)
	if err != nil {
		return err
	}
	err = CheckServer(ctx, cs, t)
	if errors.Is(err, ErrNoServer) {
		return fmt.Errorf("%v: %w", err, ignitionhost.ErrInvalidOptions)
	}
	return err
}
