#!/usr/bin/env bash
# `make test`: every test, with the real single-node cluster of test/cluster
# started for the in-cluster ones and stopped (host restored) afterwards,
# whatever happens; a cluster that was already up is reused and left up.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The cluster's Kubernetes binaries take minutes to build: keep them outside
# the checkout, so fresh clones (CI) reuse them.
export CLUSTER_CACHE=${CLUSTER_CACHE:-$HOME/.cache/ocne-image/cluster}
up_log=$(mktemp)
kubeconfig=$(make -s cluster-up 2>"$up_log" | tail -n 1) || { cat "$up_log" >&2; exit 1; }
# Leave the host as it was: stop the cluster only if this run started it.
if ! grep -q 'already up' "$up_log"; then
  trap 'make -s cluster-down >/dev/null 2>&1 || make cluster-down' EXIT
fi
rm -f "$up_log"

export OCNE_TEST_KUBECONFIG=$kubeconfig
export OCNE_TEST_REGISTRY=127.0.0.1:5000       # the cluster's registry, from this host
export OCNE_TEST_POD_REGISTRY=10.244.0.1:5000  # the same, from pods and the node
# A current libostree client beside Debian's 2022.7 (make ostree-new).
OCNE_TEST_OSTREE_NEW=${OCNE_TEST_OSTREE_NEW:-$(test/tools/ostree/install.sh)}
export OCNE_TEST_OSTREE_NEW
go test -count=1 -timeout 40m ./...
# Shared state under the race detector, which needs cgo (the binaries are
# built without): the archive server's (object cache, access log batches,
# part cache) and the static delta planner's, which create's compressing
# goroutines feed at once.
CGO_ENABLED=1 go test -race -count=1 ./shared/archiveserver
CGO_ENABLED=1 go test -race -short -count=1 -run 'TestPlanner|TestStream' ./shared/ostree/staticdelta ./shared/archiverepo
