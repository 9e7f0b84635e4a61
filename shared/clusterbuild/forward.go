package clusterbuild

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/ocne-image/ocne-image/shared/builder"
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
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(builder.ImagePort)}, f.stop, ready, io.Discard, io.Discard)
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

func (f *forwarder) url(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(f.local) + path
}

func (f *forwarder) status(ctx context.Context) (builder.Status, error) {
	var st builder.Status
	err := getJSON(ctx, f.url(builder.PathStatus), &st)
	return st, err
}

// get copies the archive from offset on into w and returns how many bytes
// it copied, even when it fails half way.
func (f *forwarder) get(ctx context.Context, offset int64, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url(builder.PathArchive), nil)
	if err != nil {
		return 0, err
	}
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	want := http.StatusOK
	if offset > 0 {
		want = http.StatusPartialContent
	}
	if resp.StatusCode != want {
		return 0, fmt.Errorf("GET %s from %d: %s", builder.PathArchive, offset, resp.Status)
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
