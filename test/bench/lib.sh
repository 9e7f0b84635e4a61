# Shared by the `make bench` scripts: paths, the fixture cache, helpers.
# Source it; it cds to the repository root.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit
export CGO_ENABLED=0
export GOFLAGS=${GOFLAGS:--buildvcs=false -tags=containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper}

LAYERS=${BENCH_LAYERS:-8}
EXTRA=${BENCH_EXTRA:-8000}
SMALL=${BENCH_SMALL:-12000}
BIG=${BENCH_BIG:-$((16 << 20))}
CACHE=$ROOT/.cache/bench
PLUGIN=$ROOT/bin/kubectl-ocne_image
CONVBENCH=$CACHE/bin/convbench
FIXTURE_VERSION=1 # bump when the fixture recipe changes
# shellcheck disable=SC2034 # used by the scripts that source this
TAG=1.31          # tag of the images in the OCI layouts (convbench's ImageTag)
# shellcheck disable=SC2034
REF=ock

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# need_packages PKG...: installs the Debian packages only the benchmarks use.
need_packages() {
  local p need=()
  for p; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p"); done
  ((${#need[@]})) || return 0
  log "bench: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
}

command -v ostree >/dev/null || die "ostree CLI missing; run make deps"
[[ -x $PLUGIN ]] || die "$PLUGIN missing; run make build"
mkdir -p "$CACHE/bin"
go build -trimpath -o "$CONVBENCH" ./test/bench/cmd/convbench
OSTREE_VERSION=$(ostree --version | awk -F"'" '/Version/ {print $2}')

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }
mib() { calc "%.1f" "$1/1048576"; }
# mark VALUE OK-EXPR: "ok" or "MISSED" (awk expression in v)
mark() { awk -v v="$1" "BEGIN {print (($2) ? \"ok\" : \"MISSED\")}"; }

# shell_words ARG...: the command line, quoting arguments with spaces.
shell_words() {
  local a out=()
  for a; do
    if [[ $a == *" "* ]]; then out+=("'$a'"); else out+=("$a"); fi
  done
  echo "${out[*]}"
}

# fixture SCALE: sets FIX to the fixture directory, building it if needed.
fixture() {
  local s=$1 extra=$((EXTRA * $1)) small=$((SMALL * $1)) big=$((BIG * $1))
  FIX=$CACHE/fixtures/x$extra-s$small-b$big-l$LAYERS-v$FIXTURE_VERSION-ostree$OSTREE_VERSION
  if [[ ! -f $FIX/stats ]]; then
    log "bench: building fixture ${s}x in $FIX (first run only)"
    rm -rf "$FIX" "$FIX.tmp"
    mkdir -p "$(dirname "$FIX")"
    local t0=$SECONDS
    "$CONVBENCH" fixture -dir "$FIX.tmp" -extra "$extra" -small "$small" -big "$big" -layers "$LAYERS" >/dev/null
    mv "$FIX.tmp" "$FIX"
    log "bench: fixture ${s}x built in $((SECONDS - t0))s"
  fi
}

# warm DIR...: reads every file, so that it is in the page cache. (Through a
# pipe: cat may splice straight to /dev/null without reading anything.)
warm() { find "$@" -type f -exec cat {} + | wc -c >/dev/null; }


free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_url() { local i; for ((i = 0; i < 100; i++)); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# json_get PATH: the value at PATH (keys and list indexes joined by dots)
# of the JSON on stdin; lists print one item per line.
json_get() {
  python3 -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print("\n".join(d) if isinstance(d, list) else d)' "$1"
}

# image_archive IMAGE DIR: unpacks the archive server image's layers into
# DIR/DIGEST/ostree (DIGEST: the last layer's, the archive's) unless done
# before, and prints DIR/DIGEST: the same bytes the image's server serves,
# from the same path.
image_archive() {
  local image=$1 layers last out tmp l
  layers=$(tar -xOf "$image" manifest.json | json_get 0.Layers)
  last=$(tail -n 1 <<<"$layers")
  out=$2/${last##*/}
  if [[ ! -d $out ]]; then
    tmp=$out.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp/blobs" "$tmp/root"
    # shellcheck disable=SC2086 # digests: no spaces
    tar -xf "$image" -C "$tmp/blobs" $layers
    for l in $layers; do tar -xf "$tmp/blobs/$l" -C "$tmp/root"; done
    mkdir "$tmp/archive"
    mv "$tmp/root/usr/share/nginx/html/ostree" "$tmp/archive/ostree"
    mv "$tmp/archive" "$out"
    rm -rf "$tmp"
  fi
  echo "$out"
}

# image_server IMAGE FILE: the archive server program the image runs, as FILE.
image_server() {
  local l0
  l0=$(tar -xOf "$1" manifest.json | json_get 0.Layers | sed -n 1p)
  tar -xOf "$1" "$l0" | tar -xO usr/bin/ocne-archive-server >"$2"
  chmod +x "$2"
}

# image_env IMAGE: the environment the image gives its program, a line each.
image_env() {
  local cfg
  cfg=$(tar -xOf "$1" manifest.json | json_get 0.Config)
  tar -xOf "$1" "$cfg" | json_get config.Env
}

# nginx_conf USER LISTEN ROOT DIR ACCESS_LOG: the peer's configuration, the
# settings a site would tune nginx with for static files; DIR holds the pid
# file, the error log and the temporary files. Every cached open file is a
# descriptor: the cache stays well below the limit (4096 in the
# containers), else nginx fails requests with EMFILE (and the clients'
# retries hide it). The access log is written in batches, like ours.
nginx_conf() {
  cat <<EOF
user $1;
worker_processes auto;
pid $4/nginx.pid;
error_log $4/error.log;
events { worker_connections 4096; }
http {
  access_log $5 combined buffer=64k flush=1s;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 100000;
  open_file_cache max=1000 inactive=60s;
  default_type application/octet-stream;
  client_body_temp_path $4/tmp; proxy_temp_path $4/tmp; fastcgi_temp_path $4/tmp;
  uwsgi_temp_path $4/tmp; scgi_temp_path $4/tmp;
  server {
    listen $2;
    root $3;
  }
}
EOF
}

