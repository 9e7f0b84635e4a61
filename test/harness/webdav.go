package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// WebDAV is a real nginx (Debian nginx-core) accepting PUT and DELETE.
type WebDAV struct {
	// Base is http://127.0.0.1:PORT. Under it: /basic/ wants basic auth
	// (User, Password) to write, /token/ wants the bearer Token,
	// /open/ wants nothing, and /readonly/ refuses PUT (405).
	Base                  string
	User, Password, Token string
	// Root is the directory nginx serves.
	Root string
}

// StartWebDAV runs nginx in the foreground with its own prefix, config and
// logs in a temp dir, on a free port; it is stopped at cleanup.
func StartWebDAV(t *testing.T) *WebDAV {
	t.Helper()
	dir := t.TempDir()
	w := &WebDAV{User: "ocne", Password: "s3cret-pw", Token: "t0ken-" + filepath.Base(dir), Root: filepath.Join(dir, "www")}
	for _, d := range []string{"www/basic", "www/token", "www/open", "www/readonly", "tmp", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// {PLAIN}: nginx's own scheme, no crypt(3) dependency.
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(w.User+":{PLAIN}"+w.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	w.Base = fmt.Sprintf("http://127.0.0.1:%d", port)
	// master_process off: one process as the test's user, so it can write
	// the test's temp dir whoever runs the tests.
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events {}
http {
  access_log off;
  client_body_temp_path %[1]s/tmp/body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
  server {
    listen 127.0.0.1:%[2]d;
    root %[1]s/www;
    location /basic/ {
      dav_methods PUT DELETE;
      limit_except GET HEAD OPTIONS { auth_basic "ocne"; auth_basic_user_file %[1]s/htpasswd; }
    }
    location /token/ {
      dav_methods PUT DELETE;
      set $authz "";
      if ($request_method ~ ^(PUT|DELETE)$) { set $authz "write"; }
      if ($http_authorization != "Bearer %[3]s") { set $authz "${authz}-denied"; }
      if ($authz = "write-denied") { return 401; }
    }
    location /open/ { dav_methods PUT DELETE; }
    location /readonly/ { }
  }
}
`, dir, port, w.Token)
	cfgPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nginx", "-p", dir, "-c", cfgPath, "-e", filepath.Join(dir, "logs", "error.log"))
	// nginx writes its errors to its own log, not to stdout.
	StartServer(t, "nginx (Debian nginx-core; test/scripts/deps.sh installs it)", cmd,
		filepath.Join(dir, "logs", "stdout.log"), filepath.Join(dir, "logs", "error.log"))
	WaitHTTP(t, w.Base+"/open/", 10*time.Second)
	return w
}
