package ignition

import (
	"bytes"
	"fmt"
	"text/template"

	"github.com/coreos/ignition/v2/config/util"
	v33 "github.com/coreos/ignition/v2/config/v3_3/types"
)

// VirtualIP is a control plane that holds the cluster's virtual IP (ocne's
// virtualIp): keepalived moves the address between the control-plane
// nodes, and nginx on each serves Port on it, forwarding to the local API
// server, which binds AltPort. ocne's HA monitor, installed into the
// cluster by `ocne cluster start`, later fills in the peers of both.
type VirtualIP struct {
	Address       string
	Port, AltPort int
}

// Paths, units and users of the virtual IP, as ocne's byo driver and the
// OCK image name them (the image creates keepalived_script itself).
const (
	keepalivedConf    = "/etc/keepalived/keepalived.conf"
	keepalivedCheck   = "/etc/keepalived/check_apiserver.sh"
	keepalivedState   = "/etc/keepalived/keepalived_state.sh"
	keepalivedLog     = "/etc/keepalived/log"
	keepalivedUser    = "keepalived_script"
	nginxConf         = "/etc/ocne/nginx/nginx.conf"
	nginxPull         = "/etc/ocne/nginx/pull_ocne_nginx"
	nginxStart        = "/etc/ocne/nginx/start_ocne_nginx"
	nginxImageFile    = "/etc/ocne/nginx/image"
	nginxUser         = "nginx_script"
	nginxUnit         = "ocne-nginx.service"
	keepalivedUnit    = "keepalived.service"
	nginxImageVersion = "olcne/nginx:1.17.7-1"
)

var vipTemplates = template.Must(template.New("vip").Parse(`
{{- define "keepalived.conf" -}}
# The control plane's virtual IP ({{.VIP}}), written by ocne-image. OCNE's
# HA monitor adds the other control-plane nodes as unicast peers.
global_defs {
    router_id LVS_DEVEL
    enable_script_security
}

vrrp_script check_apiserver {
    script "{{.Check}}"
    interval 5
    # weight 0: the check moves the instance in and out of FAULT state
    weight 0
    fall 10
    rise 2
}

vrrp_instance VI_1 {
    state BACKUP
    interface {{.Iface}}
    virtual_router_id 51
    priority 50
    unicast_peer {
    }
    virtual_ipaddress {
        {{.VIP}}
    }
    track_script {
        check_apiserver
    }
    notify {{.State}}
}
{{end}}
{{- define "check_apiserver.sh" -}}
#!/bin/bash
# keepalived's health check of this control-plane node (ocne-image).
vip={{.VIP}}
port={{.Port}}
if ! ip -o addr show | grep -qF " $vip/"; then
    # No peers yet means the cluster has not configured this node: if
    # another node answers for the address and serves the API there, fail,
    # so a joining node never takes the address over.
    if tr -d '[:space:]' < {{.Conf}} | grep -qF 'unicast_peer{}'; then
        dev=$(ip route get "$vip" | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
        if arping -f -c 3 -I "$dev" "$vip" >/dev/null 2>&1 && curl -sk -o /dev/null "https://$vip:$port"; then
            exit 1
        fi
    fi
fi
if ! ss -Hltn "sport = :$port" | grep -q .; then
    echo "$(date): nothing listens on port $port (ocne-nginx)" >> {{.Log}}
    exit 1
fi
{{end}}
{{- define "keepalived_state.sh" -}}
#!/bin/bash
# keepalived's notify script: a log of this node's VRRP state changes.
echo "$(date): keepalived state: $*" >> {{.Log}}
{{end}}
{{- define "nginx.conf" -}}
# Port {{.Port}} on the virtual IP, forwarded to the API servers (this node's
# on port {{.AltPort}} until OCNE's HA monitor adds the others). ocne-image.
load_module /usr/lib64/nginx/modules/ngx_stream_module.so;
events {
    worker_connections 2048;
}
stream {
    upstream backend1 {
        least_conn;
        server localhost:{{.AltPort}} fail_timeout=10s max_fails=1;
    }
    server {
        listen {{.Port}};
        listen [::]:{{.Port}};
        proxy_pass backend1;
        proxy_connect_timeout 5s;
    }
}
{{end}}
{{- define "image" -}}
IMAGE={{.Image}}
{{end}}
{{- define "pull_ocne_nginx" -}}
#!/bin/bash
# ExecStartPre of ocne-nginx.service: pull nginx through CRI-O (its proxy
# and registries) unless it is there. OCK images that ship their own
# ocne-nginx.service drop-in (image.conf) run theirs instead.
IMAGE={{.Image}}
[ -f {{.ImageFile}} ] && . {{.ImageFile}}
podman image exists "$IMAGE" || crictl pull "$IMAGE"
exit 0
{{end}}
{{- define "start_ocne_nginx" -}}
#!/bin/bash
IMAGE={{.Image}}
[ -f {{.ImageFile}} ] && . {{.ImageFile}}
exec podman run --name ocne-nginx --replace --rm --network=host --volume=/etc/ocne/nginx:/etc/nginx "$IMAGE"
{{end}}
{{- define "ocne-nginx.service" -}}
[Unit]
Description=nginx in front of the Kubernetes API servers of an OCNE control plane
Wants=network.target
After=network.target
Before=keepalived.service
StartLimitIntervalSec=0

[Service]
ExecStartPre={{.Pull}}
ExecStart={{.Start}}
ExecStop=podman stop ocne-nginx
ExecReload=podman exec ocne-nginx nginx -s reload
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
WantedBy=keepalived.service
{{end}}
{{- define "refresh.path" -}}
[Unit]
Description=Watch {{.Watched}} for changes

[Path]
PathChanged={{.Watched}}
Unit={{.Refresh}}

[Install]
WantedBy=multi-user.target
{{end}}
{{- define "refresh.service" -}}
[Unit]
Description=Reload {{.Reloaded}} when its configuration changes

[Service]
Type=oneshot
ExecStart=systemctl reload {{.Reloaded}}

[Install]
WantedBy=multi-user.target
{{end}}
`))

func render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := vipTemplates.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return b.String(), nil
}

// NoInterfaceError is a control plane behind VirtualIP without the network
// interface keepalived holds the address on (the config key names it).
type NoInterfaceError struct{ VirtualIP string }

func (e *NoInterfaceError) Error() string {
	return fmt.Sprintf("a control plane behind the virtual IP %s needs the network interface keepalived holds it on: set providers.byo.networkInterface", e.VirtualIP)
}

// add puts keepalived's and nginx's files, units and the nginx_script
// user into c. iface is the interface keepalived holds the address on.
func (v VirtualIP) add(c *v33.Config, iface, registry string) error {
	if iface == "" {
		return &NoInterfaceError{VirtualIP: v.Address}
	}
	if registry == "" {
		registry = DefaultContainerRegistry
	}
	data := map[string]any{
		"VIP": v.Address, "Port": v.Port, "AltPort": v.AltPort, "Iface": iface,
		"Check": keepalivedCheck, "State": keepalivedState, "Log": keepalivedLog, "Conf": keepalivedConf,
		// The site's registry, so an air-gapped mirror serves nginx too.
		"Image": registry + "/" + nginxImageVersion, "ImageFile": nginxImageFile,
		"Pull": nginxPull, "Start": nginxStart,
	}
	files := []struct {
		path, tmpl string
		mode       int
		owner      string
	}{
		{keepalivedConf, "keepalived.conf", 0o644, keepalivedUser},
		{keepalivedCheck, "check_apiserver.sh", 0o755, keepalivedUser},
		{keepalivedState, "keepalived_state.sh", 0o755, keepalivedUser},
		{keepalivedLog, "", 0o644, keepalivedUser},
		{nginxConf, "nginx.conf", 0o644, nginxUser},
		{nginxPull, "pull_ocne_nginx", 0o755, ""},
		{nginxStart, "start_ocne_nginx", 0o755, ""},
		{nginxImageFile, "image", 0o644, ""},
	}
	for _, f := range files {
		var text string
		if f.tmpl != "" {
			var err error
			if text, err = render(f.tmpl, data); err != nil {
				return err
			}
		}
		nf := file(f.path, f.mode, []byte(text))
		if f.owner != "" {
			nf.User.Name, nf.Group.Name = util.StrToPtr(f.owner), util.StrToPtr(f.owner)
		}
		c.Storage.Files = append(c.Storage.Files, nf)
	}

	units := []struct {
		name, tmpl string
		data       map[string]any
	}{
		{nginxUnit, "ocne-nginx.service", data},
		{"ocne-nginx-refresh.service", "refresh.service", map[string]any{"Reloaded": nginxUnit}},
		{"ocne-nginx-refresh.path", "refresh.path", map[string]any{"Watched": nginxConf, "Refresh": "ocne-nginx-refresh.service"}},
		{keepalivedUnit, "", nil}, // the image's own unit
		{"keepalived-refresh.service", "refresh.service", map[string]any{"Reloaded": keepalivedUnit}},
		{"keepalived-refresh.path", "refresh.path", map[string]any{"Watched": keepalivedConf, "Refresh": "keepalived-refresh.service"}},
	}
	for _, u := range units {
		nu := v33.Unit{Name: u.name, Enabled: util.BoolToPtr(true)}
		if u.tmpl != "" {
			text, err := render(u.tmpl, u.data)
			if err != nil {
				return err
			}
			nu.Contents = &text
		}
		c.Systemd.Units = append(c.Systemd.Units, nu)
	}

	// nginx's config belongs to nginx_script, which older OCK images lack.
	c.Passwd.Groups = append(c.Passwd.Groups, v33.PasswdGroup{Name: nginxUser, System: util.BoolToPtr(true)})
	c.Passwd.Users = append(c.Passwd.Users, v33.PasswdUser{
		Name: nginxUser, PrimaryGroup: util.StrToPtr(nginxUser), Shell: util.StrToPtr("/sbin/nologin"),
		System: util.BoolToPtr(true), NoCreateHome: util.BoolToPtr(true),
	})
	return nil
}
