// Command ocne-ignition-http-put is an Ignition hosting plugin that
// publishes with HTTP PUT and unpublishes with DELETE, to any web server
// that accepts them (nginx dav_methods, Apache mod_dav, object stores).
//
// Options (--publish-opt key=value):
//
//	base-url       where configs are PUT, e.g. https://web.example.com/ignition/ (required)
//	public-url     what nodes fetch them as, if not base-url
//	username, password or password-file   basic auth
//	token or token-file                   bearer token
//	ca-file        CA bundle for an https base-url
//	ledger-dir     where the record of published configs is kept (default ~/.ocne/published)
//
// A plain web server cannot list, so what was published is recorded on
// this machine (see the ignitionhost/ledger package).
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ocne-image/ocne-image/plugins/ignitionhost"
	"github.com/ocne-image/ocne-image/plugins/ignitionhost/ledger"
)

func main() { ignitionhost.Serve(httpPut{}) }

type httpPut struct{}

// target is one configured server.
type target struct {
	base, public string
	client       *http.Client
	auth         func(*http.Request)
	ledger       *ledger.Ledger
}

func open(o map[string]string) (*target, error) {
	base, err := ignitionhost.Option(o, "base-url")
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("option base-url %q: want http(s)://HOST[:PORT]/PATH/ without credentials (use username/password or token): %w", base, ignitionhost.ErrInvalidOptions)
	}
	t := &target{base: strings.TrimSuffix(base, "/") + "/", auth: func(*http.Request) {}}
	t.public = t.base
	if p := o["public-url"]; p != "" {
		t.public = strings.TrimSuffix(p, "/") + "/"
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if ca := o["ca-file"]; ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("option ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("option ca-file %s holds no PEM certificate: %w", ca, ignitionhost.ErrInvalidOptions)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	t.client = &http.Client{Transport: transport, Timeout: 60 * time.Second}
	if t.auth, err = authFrom(o); err != nil {
		return nil, err
	}
	t.ledger, err = ledger.Open(o["ledger-dir"], "http-put", t.base)
	return t, err
}

// authFrom reads credentials from options or the files they name; a file
// keeps a secret out of the process list and shell history.
func authFrom(o map[string]string) (func(*http.Request), error) {
	secret := func(key string) (string, error) {
		if f := o[key+"-file"]; f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("option %s-file: %w", key, err)
			}
			return strings.TrimSpace(string(b)), nil
		}
		return o[key], nil
	}
	token, err := secret("token")
	if err != nil {
		return nil, err
	}
	password, err := secret("password")
	if err != nil {
		return nil, err
	}
	user := o["username"]
	switch {
	case token != "" && user != "":
		return nil, fmt.Errorf("options token and username both set: use one way to authenticate: %w", ignitionhost.ErrInvalidOptions)
	case token != "":
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, nil
	case user != "":
		return func(r *http.Request) { r.SetBasicAuth(user, password) }, nil
	case password != "":
		return nil, fmt.Errorf("option password needs username: %w", ignitionhost.ErrInvalidOptions)
	}
	return func(*http.Request) {}, nil
}

// do sends one request; the error never carries credentials.
func (t *target) do(ctx context.Context, method, name string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, t.base+name, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	t.auth(req)
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, t.base+name, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func refused(method, u string, code int) error {
	hint := "check the server allows " + method + " there"
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		hint = "check the credentials (username/password or token) and the server's permissions"
	}
	return fmt.Errorf("%s %s: server answered %d %s: %s", method, u, code, http.StatusText(code), hint)
}

func (httpPut) Publish(ctx context.Context, r ignitionhost.PublishRequest) (string, error) {
	t, err := open(r.Options)
	if err != nil {
		return "", err
	}
	code, err := t.do(ctx, http.MethodPut, r.Name, r.Config)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK && code != http.StatusCreated && code != http.StatusNoContent {
		return "", refused(http.MethodPut, t.base+r.Name, code)
	}
	e := ignitionhost.Entry{Name: r.Name, URL: t.public + r.Name, Selector: r.Selector, Expires: r.Expires}
	return e.URL, t.ledger.Put(e)
}

func (httpPut) Unpublish(ctx context.Context, name string, o map[string]string) error {
	t, err := open(o)
	if err != nil {
		return err
	}
	_, recorded, err := t.ledger.Get(name)
	if err != nil {
		return err
	}
	code, err := t.do(ctx, http.MethodDelete, name, nil)
	switch {
	case err != nil:
		return err
	case code == http.StatusNotFound && !recorded:
		return fmt.Errorf("%s on %s: %w", name, t.base, ignitionhost.ErrNotFound)
	case code >= 300 && code != http.StatusNotFound:
		return refused(http.MethodDelete, t.base+name, code)
	}
	return t.ledger.Delete(name)
}

func (httpPut) List(_ context.Context, o map[string]string) ([]ignitionhost.Entry, error) {
	t, err := open(o)
	if err != nil {
		return nil, err
	}
	return t.ledger.Entries()
}

func (httpPut) Health(ctx context.Context, o map[string]string) error {
	t, err := open(o)
	if err != nil {
		return err
	}
	code, err := t.do(ctx, http.MethodOptions, "", nil)
	if err != nil {
		return err
	}
	if code == http.StatusUnauthorized || code == http.StatusProxyAuthRequired || code >= 500 {
		return refused(http.MethodOptions, t.base, code)
	}
	return nil
}
