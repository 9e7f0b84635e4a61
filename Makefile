# ocne-image: `make demo` sets up and runs the main job, `make test` runs
# every test (make test-unit, lint, test-e2e). Both install what they need
# (see test/scripts/deps.sh).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# Static binaries, no cgo: they go into FROM-scratch images. The tags drop
# the gpgme and graph-driver code that would need C libraries.
export CGO_ENABLED := 0
GOTAGS := containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper
export GOFLAGS := -buildvcs=false -tags=$(GOTAGS)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/ocne-image/ocne-image/shared/buildinfo.Version=$(VERSION)
GOBUILD := go build -trimpath -ldflags '$(LDFLAGS)'

# One archive server per architecture the images are for.
PAYLOAD := shared/serverimage/payload/archive-server-amd64 shared/serverimage/payload/archive-server-arm64
SERVER_SRC := $(shell find shared/serverimage/archive-server shared/archiveserver shared/buildinfo -name '*.go' ! -name '*_test.go')

# krew wants a semver: the exact tag, else v0.0.0-<commit>.
DIST_VERSION ?= $(shell git describe --tags --exact-match 2>/dev/null || echo v0.0.0-$$(git rev-parse --short HEAD))

.PHONY: build deps test test-unit test-e2e lint vet bench bench-install loadtest demo dist builder-image generate clean FORCE

build: bin/kubectl-ocne_image bin/ocne-image-builder bin/podman-ocne bin/ocne-ignition-http-put bin/ocne-ignition-matchbox

# The plugin embeds the archive servers, so it can build server images for
# either architecture without a network or a base image.
shared/serverimage/payload/archive-server-%: $(SERVER_SRC)
	GOARCH=$* $(GOBUILD) -o $@ ./shared/serverimage/archive-server

bin/kubectl-ocne_image: $(PAYLOAD) FORCE
	$(GOBUILD) -o $@ ./kubectl-ocne

# The builder pod's program, beside the plugin, where builder-image finds it.
bin/ocne-image-builder: FORCE
	$(GOBUILD) -o $@ ./kubectl-ocne/builder

# The Ignition hosting plugins we ship (plugins/README.md).
bin/ocne-ignition-%: FORCE
	$(GOBUILD) -o $@ ./plugins/$*

# The Podman companion: the v5 bindings, over the REST socket.
bin/podman-ocne: FORCE
	$(GOBUILD) -o $@ ./podman-helper

bin/ock-sample: FORCE
	$(GOBUILD) -o $@ ./test/fixture/cmd/ock-sample

deps:
	test/scripts/deps.sh

# Real peers the tests drive, built from the Go module proxy and cached.
KREW := .cache/tools/krew
$(KREW): test/tools/go.mod
	cd test/tools && GOFLAGS=-buildvcs=false go build -o $(CURDIR)/$@ sigs.k8s.io/krew/cmd/krew

# matchbox v0.11.0, the server the matchbox plugin is tested against; its
# own module because it pins an older Ignition than ours.
MATCHBOX := .cache/tools/matchbox
$(MATCHBOX): test/tools/matchbox/go.mod
	cd test/tools/matchbox && GOFLAGS=-buildvcs=false go build -o $(CURDIR)/$@ github.com/poseidon/matchbox/cmd/matchbox

# The gRPC code of the Ignition hosting plugin protocol is committed;
# regenerate it after editing the .proto (needs Debian protobuf-compiler).
PROTOC_GEN := .cache/tools/protoc-gen-go .cache/tools/protoc-gen-go-grpc
.cache/tools/protoc-gen-%: test/tools/protoc/go.mod
	cd test/tools/protoc && GOFLAGS=-buildvcs=false go build -o $(CURDIR)/$@ $(if $(filter go,$*),google.golang.org/protobuf/cmd/protoc-gen-go,google.golang.org/grpc/cmd/protoc-gen-go-grpc)

generate: $(PROTOC_GEN)
	command -v protoc >/dev/null || { echo "generate: protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }
	protoc --plugin=protoc-gen-go=.cache/tools/protoc-gen-go --plugin=protoc-gen-go-grpc=.cache/tools/protoc-gen-go-grpc \
	  -I plugins/ignitionhost/proto --go_out=paths=source_relative:plugins/ignitionhost/proto \
	  --go-grpc_out=paths=source_relative:plugins/ignitionhost/proto plugins/ignitionhost/proto/ignitionhost.proto

# Real Ignition at the version of the config types the plugin writes with
# (test/tools/ignition/go.mod): ignition-validate, and ignition itself,
# which needs cgo and libblkid for its disk code.
IGNITION_MOD := test/tools/ignition
IGNITION_VERSION = $(shell awk '$$1 == "require" && $$2 == "github.com/coreos/ignition/v2" {print $$3}' $(IGNITION_MOD)/go.mod)
IGNITION_TOOLS := .cache/tools/ignition .cache/tools/ignition-validate
.cache/tools/ignition-validate: $(IGNITION_MOD)/go.mod
	cd $(IGNITION_MOD) && GOFLAGS=-buildvcs=false go build \
	  -ldflags '-X github.com/coreos/ignition/v2/internal/version.Raw=$(IGNITION_VERSION)' -o $(CURDIR)/$@ github.com/coreos/ignition/v2/validate
.cache/tools/ignition: $(IGNITION_MOD)/go.mod
	cd $(IGNITION_MOD) && CGO_ENABLED=1 GOFLAGS=-buildvcs=false go build \
	  -ldflags '-X github.com/coreos/ignition/v2/internal/version.Raw=$(IGNITION_VERSION)' -o $(CURDIR)/$@ github.com/coreos/ignition/v2/internal

# Podman 5 (test/tools/podman5: cgo, Debian's -dev packages), which the
# podman-ocne tests run against beside Debian's 4.3; cached in
# ~/.cache/ocne-image/podman5 like the cluster binaries, so CI reuses it.
.PHONY: podman5
podman5: deps
	test/tools/podman5/build.sh

# A current libostree client (Debian 13's ostree 2025.2, test/tools/ostree)
# beside Debian 12's 2022.7, which stays /usr/bin/ostree and the default:
# the static-delta tests and bench-install pick it by path. Cached in
# ~/.cache/ocne-image/ostree-VERSION like the cluster binaries.
.PHONY: ostree-new
ostree-new:
	test/tools/ostree/install.sh >/dev/null

# staticcheck, pinned in its own module for `make lint`.
STATICCHECK := .cache/tools/staticcheck
$(STATICCHECK): test/tools/staticcheck/go.mod
	cd test/tools/staticcheck && GOFLAGS=-buildvcs=false go build -o $(CURDIR)/$@ honnef.co/go/tools/cmd/staticcheck

vet: $(PAYLOAD)
	go vet ./...

# Three tiers; the README's one command runs them all, fastest first.
test: test-unit lint test-e2e

# Go only, no external process (registry, Podman, ostree, skopeo, kubeadm,
# a cluster): tests that start one skip under -short. Well under a minute.
test-unit: $(PAYLOAD)
	go test -short -count=1 ./...

# gofmt, go vet, staticcheck and the dependency budgets (test/depcheck).
lint: vet $(STATICCHECK)
	@unformatted=$$(gofmt -l kubectl-ocne podman-helper plugins shared test); \
	  if [ -n "$$unformatted" ]; then echo "gofmt -l: not formatted: $$unformatted" >&2; exit 1; fi
	$(STATICCHECK) ./...
	go test -count=1 ./test/depcheck

# Every test, the real peers included; the in-cluster ones run on the real
# cluster test/scripts/test.sh starts (and always stops).
test-e2e: deps build podman5 ostree-new $(KREW) $(MATCHBOX) $(IGNITION_TOOLS)
	test/scripts/test.sh

demo: deps build bin/ock-sample
	test/scripts/demo.sh

# Each script compares against its peer in the same run and prints ratios:
# conversion vs libostree, podman-ocne vs podman, in-cluster vs local.
bench: deps build podman5 bin/ock-sample
	test/bench/bench.sh
	test/bench/podman-load.sh
	test/bench/cluster.sh

# An install's ostree pull through a proxy adding 0-50 ms per request:
# loose objects, our static delta and libostree's, with the current client
# (and ours with 2022.7) (test/bench/install.sh); about 6 minutes a round.
bench-install: deps build ostree-new
	test/bench/install.sh

# N concurrent ostree pulls against podman-ocne serve, serve in the test
# cluster and nginx (test/bench/loadtest.sh); 20-40 minutes, so apart from bench.
loadtest: deps build
	test/bench/loadtest.sh

# The builder image `create` runs in the cluster: FROM scratch,
# bin/ocne-image-builder and this host's CA bundle, as an OCI archive
# tagged with the default reference (bin/kubectl-ocne_image builder-image
# --registry R pushes it).
builder-image: build
	bin/kubectl-ocne_image builder-image --output-file bin/ocne-image-builder.tar

# Release archives for krew and the manifest that points at them.
dist: $(PAYLOAD)
	krew/dist.sh $(DIST_VERSION) '$(subst $(VERSION),$(DIST_VERSION),$(LDFLAGS))'

clean:
	rm -rf bin dist .cache $(PAYLOAD)

# A real single-node Kubernetes cluster for tests (test/cluster): binaries
# built from the Go module proxy and cached in .cache/cluster/bin, state in
# .cache/cluster/state ($CLUSTER_DIR). The last line cluster-up prints is
# the admin kubeconfig: OCNE_TEST_KUBECONFIG=<it> go test ./test/cluster/
.PHONY: cluster-up cluster-down
cluster-up:
	test/cluster/up.sh

cluster-down:
	test/cluster/down.sh
