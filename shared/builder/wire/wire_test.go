package wire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// serve starts srv's handler on loopback and returns a client for it.
func serve(t *testing.T, srv *Server) Client {
	t.Helper()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return Client{URL: ts.URL, HTTP: ts.Client()}
}

// built writes an archive as a build would and returns its result.
func built(t *testing.T, content string) *Result {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ock.tar")
	if err := os.WriteFile(out, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Result{Output: out, Source: "docker://r/ock:1.33", Commit: "abc", Ref: "ock",
		Version: "1.33", Arch: "amd64", Objects: 7, Names: []string{"localhost/ock-ostree:latest", "localhost/ock-ostree:1.33"}}
}

// TestStatusRoundTrip: what the client decodes is what the server holds,
// in every state a build goes through.
func TestStatusRoundTrip(t *testing.T) {
	const content = "archive bytes"
	sum := sha256.Sum256([]byte(content))
	for _, tc := range []struct {
		name string
		do   func(*Server, *Result) error
		want func(*Result) Status
	}{
		{
			name: "building",
			do:   func(s *Server, _ *Result) error { s.Start(100); s.Add(40); return nil },
			want: func(*Result) Status { return Status{State: StateBuilding, Read: 40, Total: 100} },
		},
		{
			name: "ready",
			do:   func(s *Server, r *Result) error { s.Start(10); s.Add(10); return s.Ready(r) },
			want: func(r *Result) Status {
				return Status{State: StateReady, Result: r, Digest: "sha256:" + hex.EncodeToString(sum[:]),
					Size: int64(len(content)), Read: 10, Total: 10}
			},
		},
		{
			name: "pushed",
			do:   func(s *Server, r *Result) error { s.Pushed(r); return nil },
			want: func(r *Result) Status { return Status{State: StatePushed, Result: r} },
		},
		{
			name: "failed",
			do:   func(s *Server, _ *Result) error { s.Fail(errors.New("pull: manifest unknown")); return nil },
			want: func(*Result) Status { return Status{State: StateFailed, Error: "pull: manifest unknown"} },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, res := NewServer(), built(t, content)
			if err := tc.do(srv, res); err != nil {
				t.Fatal(err)
			}
			got, err := serve(t, srv).Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if want := tc.want(res); !reflect.DeepEqual(got, want) {
				t.Errorf("client got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestReadyMissingArchive(t *testing.T) {
	srv := NewServer()
	if err := srv.Ready(&Result{Output: filepath.Join(t.TempDir(), "nope.tar")}); err == nil {
		t.Fatal("Ready of a missing archive: no error")
	}
	if st := srv.Status(); st.State != StateBuilding {
		t.Errorf("state after a failed Ready = %q, want %q", st.State, StateBuilding)
	}
}

// TestArchive: the client fetches the whole archive, the rest of it from
// an offset, and, after a transfer cut short, resumes where it stopped.
func TestArchive(t *testing.T) {
	const content = "0123456789abcdefghij"
	for _, tc := range []struct {
		name     string
		cutAfter int64
		offset   int64
		wantN    int64 // bytes the first call copies
		wantErr  bool  // from the first call
	}{
		{name: "whole", wantN: int64(len(content))},
		{name: "from an offset", offset: 12, wantN: int64(len(content)) - 12},
		{name: "cut, then resumed", cutAfter: 7, wantN: 7, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := NewServer()
			srv.CutAfter = tc.cutAfter
			if err := srv.Ready(built(t, content)); err != nil {
				t.Fatal(err)
			}
			c := serve(t, srv)
			var got bytes.Buffer
			n, err := c.Archive(context.Background(), tc.offset, &got)
			if n != tc.wantN || (err != nil) != tc.wantErr {
				t.Fatalf("Archive(%d) = %d, %v; want %d bytes, error %v", tc.offset, n, err, tc.wantN, tc.wantErr)
			}
			if have := tc.offset + n; have < int64(len(content)) {
				if _, err := c.Archive(context.Background(), have, &got); err != nil {
					t.Fatalf("resume from %d: %v", have, err)
				}
			}
			if want := content[tc.offset:]; got.String() != want {
				t.Errorf("fetched %q, want %q", got.String(), want)
			}
		})
	}
}

func TestArchiveNotBuilt(t *testing.T) {
	_, err := serve(t, NewServer()).Archive(context.Background(), 0, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("Archive before the build: %v, want a 409 Conflict", err)
	}
}

// TestProbes: /ready turns 200 only once there is an archive to fetch.
func TestProbes(t *testing.T) {
	for _, tc := range []struct {
		ready bool
		path  string
		want  int
	}{
		{false, PathHealth, http.StatusOK},
		{false, PathReady, http.StatusServiceUnavailable},
		{true, PathReady, http.StatusOK},
	} {
		t.Run(fmt.Sprintf("%s ready=%v", tc.path, tc.ready), func(t *testing.T) {
			srv := NewServer()
			if tc.ready {
				if err := srv.Ready(built(t, "x")); err != nil {
					t.Fatal(err)
				}
			}
			c := serve(t, srv)
			resp, err := c.HTTP.Get(c.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("GET %s = %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
		})
	}
}
