#!/usr/bin/env bash
# `make test`: every test, with the real single-node cluster of test/cluster
# started for the in-cluster ones and stopped (host restored) afterwards,
# whatever happens.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The cluster's Kubernetes binaries take minutes to build: keep them outside
# the checkout, so fresh clones (CI) reuse them.
export CLUSTER_CACHE=${CLUSTER_CACHE:-$HOME/.cache/ocne-image/cluster}
kubeconfig=$(make -s cluster-up | tail -n 1)
trap 'make -s cluster-down >/dev/null 2>&1 || make cluster-down' EXIT

export OCNE_TEST_KUBECONFIG=$kubeconfig
export OCNE_TEST_REGISTRY=127.0.0.1:5000       # the cluster's registry, from this host
export OCNE_TEST_POD_REGISTRY=10.244.0.1:5000  # the same, from pods and the node
go test -count=1 -timeout 40m ./...
