package clusterbuild

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/ocne-image/ocne-image/shared/builder/wire"
	"github.com/ocne-image/ocne-image/shared/kube"
)

// forwarder is a port-forward to the builder pod's HTTP port, as `kubectl
// port-forward` makes it (pods/portforward).
type forwarder struct {
	c     *cluster
	stop  chan struct{}
	local int
}

func (c *cluster) forward(ctx context.Context) (*forwarder, error) {
	f := &forwarder{c: c}
	return f, f.connect(ctx)
}

func (f *forwarder) connect(ctx context.Context) error {
	transport, upgrader, err := spdy.RoundTripperFor(f.c.cfg)
	if err != nil {
		return err
	}
	url := f.c.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(f.c.opts.Namespace).Name(f.c.pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)
	f.stop = make(chan struct{})
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(wire.Port)}, f.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-errc:
		return fmt.Errorf("port-forward to pod %s/%s: %w", f.c.opts.Namespace, f.c.pod, kube.Explain(err, "create", "pods/portforward"))
	case <-ctx.Done():
		close(f.stop)
		return ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		close(f.stop)
		return fmt.Errorf("port-forward to pod %s/%s: no local port", f.c.opts.Namespace, f.c.pod)
	}
	f.local = int(ports[0].Local)
	return nil
}

func (f *forwarder) reconnect(ctx context.Context) error {
	f.close()
	return f.connect(ctx)
}

func (f *forwarder) close() {
	if f.stop != nil {
		close(f.stop)
		f.stop = nil
	}
}

// client speaks the pod's protocol through the forward as it is now: a
// reconnect moves it to another local port.
func (f *forwarder) client() wire.Client {
	return wire.Client{URL: "http://127.0.0.1:" + strconv.Itoa(f.local)}
}
