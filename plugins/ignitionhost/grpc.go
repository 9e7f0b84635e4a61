package ignitionhost

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ocne-image/ocne-image/plugins/ignitionhost/proto"
)

// GRPCPlugin carries an IgnitionHost over go-plugin's gRPC transport; Impl
// is set on the plugin side only.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl IgnitionHost
}

// GRPCServer registers the plugin's implementation.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterIgnitionHostServer(s, &grpcServer{impl: p.Impl})
	return nil
}

// GRPCClient returns the host's view of the plugin: an IgnitionHost.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcClient{c: pb.NewIgnitionHostClient(c)}, nil
}

type grpcClient struct{ c pb.IgnitionHostClient }

func (g *grpcClient) Publish(ctx context.Context, r PublishRequest) (string, error) {
	resp, err := g.c.Publish(ctx, &pb.PublishRequest{
		Name: r.Name, Config: r.Config, Selector: r.Selector,
		ExpiresUnix: toUnix(r.Expires), Options: r.Options,
	})
	if err != nil {
		return "", fromStatus(err)
	}
	return resp.Url, nil
}

func (g *grpcClient) Unpublish(ctx context.Context, name string, options map[string]string) error {
	_, err := g.c.Unpublish(ctx, &pb.UnpublishRequest{Name: name, Options: options})
	return fromStatus(err)
}

func (g *grpcClient) List(ctx context.Context, options map[string]string) ([]Entry, error) {
	resp, err := g.c.List(ctx, &pb.ListRequest{Options: options})
	if err != nil {
		return nil, fromStatus(err)
	}
	entries := make([]Entry, 0, len(resp.Entries))
	for _, e := range resp.Entries {
		entries = append(entries, Entry{Name: e.Name, URL: e.Url, Selector: e.Selector, Expires: fromUnix(e.ExpiresUnix)})
	}
	return entries, nil
}

func (g *grpcClient) Health(ctx context.Context, options map[string]string) error {
	_, err := g.c.Health(ctx, &pb.HealthRequest{Options: options})
	return fromStatus(err)
}

type grpcServer struct {
	pb.UnimplementedIgnitionHostServer
	impl IgnitionHost
}

func (s *grpcServer) Publish(ctx context.Context, r *pb.PublishRequest) (*pb.PublishResponse, error) {
	if err := ValidName(r.Name); err != nil {
		return nil, toStatus(err)
	}
	url, err := s.impl.Publish(ctx, PublishRequest{
		Name: r.Name, Config: r.Config, Selector: r.Selector,
		Expires: fromUnix(r.ExpiresUnix), Options: r.Options,
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.PublishResponse{Url: url}, nil
}

func (s *grpcServer) Unpublish(ctx context.Context, r *pb.UnpublishRequest) (*pb.UnpublishResponse, error) {
	if err := ValidName(r.Name); err != nil {
		return nil, toStatus(err)
	}
	return &pb.UnpublishResponse{}, toStatus(s.impl.Unpublish(ctx, r.Name, r.Options))
}

func (s *grpcServer) List(ctx context.Context, r *pb.ListRequest) (*pb.ListResponse, error) {
	entries, err := s.impl.List(ctx, r.Options)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.ListResponse{}
	for _, e := range entries {
		resp.Entries = append(resp.Entries, &pb.Entry{Name: e.Name, Url: e.URL, Selector: e.Selector, ExpiresUnix: toUnix(e.Expires)})
	}
	return resp, nil
}

func (s *grpcServer) Health(ctx context.Context, r *pb.HealthRequest) (*pb.HealthResponse, error) {
	return &pb.HealthResponse{}, toStatus(s.impl.Health(ctx, r.Options))
}

// toStatus keeps ErrNotFound and ErrInvalidOptions recognisable on the
// host's side of the wire.
func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrInvalidOptions):
		st := status.New(codes.InvalidArgument, err.Error())
		var missing *MissingOptionError
		if errors.As(err, &missing) {
			// The option's name travels as the field of a BadRequest, as
			// gRPC's error model has it.
			if withKey, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: missing.Key, Description: "required"},
			}}); derr == nil {
				st = withKey
			}
		}
		return st.Err()
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Unknown, err.Error())
}

// ErrPluginGone means the plugin process stopped answering mid-call
// (crashed or was killed).
var ErrPluginGone = errors.New("plugin exited")

// fromStatus turns a gRPC status back into one plain line: the plugin's
// own message, wrapped around the sentinel its code stands for.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%s%w", trimSentinel(st.Message(), ErrNotFound), ErrNotFound)
	case codes.InvalidArgument:
		if key := missingOption(st); key != "" {
			return &remoteError{msg: st.Message(), err: &MissingOptionError{Key: key}}
		}
		return fmt.Errorf("%s%w", trimSentinel(st.Message(), ErrInvalidOptions), ErrInvalidOptions)
	case codes.Canceled:
		return fmt.Errorf("%s%w", trimSentinel(st.Message(), context.Canceled), context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s%w", trimSentinel(st.Message(), context.DeadlineExceeded), context.DeadlineExceeded)
	case codes.Unavailable:
		return fmt.Errorf("%w (%s)", ErrPluginGone, st.Message())
	}
	return errors.New(st.Message())
}

// missingOption returns the option a BadRequest detail says is required.
func missingOption(st *status.Status) string {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetDescription() == "required" {
					return v.GetField()
				}
			}
		}
	}
	return ""
}

// remoteError is the plugin's own message around the error it stands for.
type remoteError struct {
	msg string
	err error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.err }

// trimSentinel drops the sentinel's text the plugin side already appended,
// so wrapping it again does not repeat it.
func trimSentinel(msg string, sentinel error) string {
	s := ": " + sentinel.Error()
	if len(msg) >= len(s) && msg[len(msg)-len(s):] == s {
		return msg[:len(msg)-len(s)] + ": "
	}
	if msg == sentinel.Error() {
		return ""
	}
	return msg + ": "
}

func toUnix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}
