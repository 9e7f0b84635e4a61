#!/usr/bin/env bash
# Installs a current libostree client, Debian 13 (trixie)'s ostree
# $OSTREE_NEW_VERSION, into $1 (default ~/.cache/ocne-image/ostree-VERSION)
# beside Debian 12's 2022.7, which stays /usr/bin/ostree and the default
# client of every test. Tests and `make bench-install` pick this one by path:
#   $1/bin/ostree   runs trixie's ostree on trixie's own C library and
#                   libraries, nothing of this host's but the kernel
#   $1/root/        trixie's ostree, libostree-1-1 and their dependencies,
#                   unpacked (never installed: dpkg does not know of them)
# and prints the path of $1/bin/ostree on stdout.
# Clients before 2023.7 walk a commit they get from a static delta while its
# parts still arrive and fetch loose what they reach first; this one does
# not (shared/ostree/staticdelta's package doc), and it is what current
# installers ship. Outside the checkout, like the cluster binaries, so
# fresh clones (CI) reuse it; nothing is fetched again for the same version.
# About 10 s cold (27 MB of packages), none cached.
#
# Binary packages, not a build from source: the Debian archive this machine
# reaches serves trixie's binary packages but not ostree's source package.
# Trixie's programs need its C library (glibc 2.41 symbols, where bookworm
# has 2.36), and a C library must come with its own loader, so the wrapper
# runs the program through trixie's loader with trixie's library directory
# (LD_LIBRARY_PATH alone would still load bookworm's loader). apt resolves
# and verifies the packages (the suite's signed Release, then each
# package's sha256) in a private state directory, against an empty dpkg
# status: the host's apt state, sources and packages are not touched.
set -euo pipefail

# The upstream version: any Debian revision of it (a stable update) will do.
OSTREE_NEW_VERSION=${OSTREE_NEW_VERSION:-2025.2}
SUITE=trixie
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

out=${1:-$HOME/.cache/ocne-image/ostree-$OSTREE_NEW_VERSION}
mkdir -p "$out"
out=$(cd "$out" && pwd)
stamp="$SUITE ostree $OSTREE_NEW_VERSION"

exec 9>"$out/.lock"
flock 9
if [[ -x $out/bin/ostree && $(cat "$out/.stamp" 2>/dev/null) == "$stamp "* ]]; then
  echo "$out/bin/ostree"
  exit 0
fi

die() { echo "ostree-new: $*" >&2; exit 1; }
[[ -r $KEYRING ]] || die "$KEYRING missing: apt-get install debian-archive-keyring"
# The mirror this host's apt uses for Debian itself.
# (awk reads it all: head would leave apt-get to die of SIGPIPE.)
# shellcheck disable=SC2016 # $(REPO_URI) is apt's field, not the shell's
mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' 'Codename: bookworm' | awk 'NR == 1')
[[ -n $mirror ]] || die "no Debian bookworm source in this host's apt configuration to take the mirror from"

echo "ostree-new: installing $SUITE's ostree $OSTREE_NEW_VERSION into $out" >&2
start=$SECONDS
tmp=$(mktemp -d "$out/.install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/apt/lists/partial" "$tmp/apt/archives/partial" "$tmp/apt/empty"
: >"$tmp/apt/status"
echo "deb [signed-by=$KEYRING] $mirror $SUITE main" >"$tmp/apt/sources.list"
# Only this configuration: the host's apt.conf.d hooks and index targets
# (appstream, clean-up scripts) are for its own apt.
cat >"$tmp/apt/apt.conf" <<EOF
Dir::Etc::Parts "$tmp/apt/empty";
Dir::Etc::SourceList "$tmp/apt/sources.list";
Dir::Etc::SourceParts "$tmp/apt/empty";
Dir::Etc::Preferences "$tmp/apt/empty/none";
Dir::Etc::PreferencesParts "$tmp/apt/empty";
Dir::State "$tmp/apt";
Dir::State::Lists "$tmp/apt/lists";
Dir::State::status "$tmp/apt/status";
Dir::Cache "$tmp/apt";
Dir::Cache::Archives "$tmp/apt/archives";
Acquire::Languages "none";
APT::Install-Recommends "false";
APT::Sandbox::User "root";
EOF
export APT_CONFIG=$tmp/apt/apt.conf
apt-get -q update >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; die "apt-get update of $SUITE failed"; }
version=$(apt-cache madison ostree | awk -v v="$OSTREE_NEW_VERSION" '$3 ~ "^" v "-" {print $3; exit}')
[[ -n $version ]] || die "$SUITE has no ostree $OSTREE_NEW_VERSION (it has: $(apt-cache madison ostree | awk '{print $3}' | paste -sd' ')); set OSTREE_NEW_VERSION"
apt-get -q -y install --download-only "ostree=$version" >>"$tmp/apt.log" 2>&1 ||
  { cat "$tmp/apt.log" >&2; die "apt-get download of ostree=$version and its dependencies failed"; }
mkdir "$tmp/root"
for deb in "$tmp/apt/archives/"*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done

libc=$(find "$tmp/root/usr/lib" -name libc.so.6 -print -quit)
[[ -n $libc ]] || die "no libc.so.6 in $SUITE's packages"
lib=${libc%/libc.so.6}
loader=$(find "$lib" -maxdepth 1 -name 'ld-linux*.so.*' -print -quit)
[[ -n $loader ]] || die "no loader (ld-linux*.so.*) in $lib"
rm -rf "${out:?}/root" "${out:?}/bin"
mv "$tmp/root" "$out/root"
lib=$out/root${lib#"$tmp/root"} loader=$out/root${loader#"$tmp/root"}
mkdir -p "$out/bin"
# GIO modules and iconv's gconv modules are loaded from fixed paths: this
# host's are built for its own glib and C library, so point both at trixie's.
cat >"$out/bin/ostree" <<EOF
#!/bin/sh
# $SUITE's ostree $version (test/tools/ostree/install.sh) on its own C library.
GIO_MODULE_DIR='$lib/gio/modules' GCONV_PATH='$lib/gconv' \\
  exec '$loader' --argv0 ostree --library-path '$lib' '$out/root/usr/bin/ostree' "\$@"
EOF
chmod +x "$out/bin/ostree"
got=$("$out/bin/ostree" --version | awk -F"'" '/Version/ {print $2; exit}')
[[ $got == "$OSTREE_NEW_VERSION" ]] || die "$out/bin/ostree --version says ${got:-nothing}, want $OSTREE_NEW_VERSION"
echo "$stamp $version" >"$out/.stamp"
echo "ostree-new: ostree $version in $((SECONDS - start)) s" >&2
echo "$out/bin/ostree"
