# vnode — build, run and test. `make help` lists the targets.

GO          ?= go
BIN         := bin
VNODE       := $(BIN)/vnode
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
LDFLAGS     := -X github.com/vnode-io/vnode/internal/version.Version=$(VERSION)
E2E_TIMEOUT ?= 60m

# make conformance: parallel ginkgo processes, the suite's timeout, an
# optional --focus regular expression, where the results go, and the state
# directory of a running cluster to use instead of starting one.
CONFORMANCE_PROCS     ?= 4
CONFORMANCE_TIMEOUT   ?= 45m
CONFORMANCE_FOCUS     ?=
CONFORMANCE_RESULTS   ?= _output/conformance
CONFORMANCE_STATE_DIR ?=

.PHONY: help build controlplane prereqs up down status test lint unit e2e bench clean conformance conformance-build conformance-doc

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/vnode
	$(GO) build -ldflags "$(LDFLAGS)" -o $(VNODE) ./cmd/vnode

controlplane: build ## build the pinned Kubernetes and etcd binaries into the cache (once per pin)
	$(VNODE) controlplane build

prereqs: ## install the Debian packages vnode needs (apt-get, only when missing)
	bash hack/install-prereqs.sh

up: prereqs controlplane ## start the local cluster in the background
	$(VNODE) up --detach

down: build ## stop the local cluster
	$(VNODE) down

status: build ## show the local cluster's components
	$(VNODE) status

test: prereqs lint unit e2e ## everything CI runs: lint, unit and end-to-end tests

lint: ## gofmt, go vet, staticcheck and golangci-lint (.golangci.yml: import names, logging, package boundaries)
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd hack/tools && $(GO) build -o ../../$(BIN)/staticcheck honnef.co/go/tools/cmd/staticcheck
	$(BIN)/staticcheck ./...
	cd hack/tools && $(GO) build -o ../../$(BIN)/golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint
	$(BIN)/golangci-lint run ./...

unit: ## unit tests
	$(GO) test -count=1 ./internal/...

# One package at a time: a cluster with the containerd runtime runs
# kube-proxy, whose rules are the host's, so one such cluster runs per host.
e2e: controlplane ## end-to-end tests on real local clusters
	$(GO) test -count=1 -p 1 -timeout $(E2E_TIMEOUT) ./test/e2e/...

clean: ## remove build output (the binary cache stays)
	rm -rf $(BIN)

bench: controlplane ## benchmarks of the node agent on a real local cluster (results: docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/bench/...

conformance-build: ## build the conformance binaries (e2e.test, ginkgo, agnhost) into the cache (once per pin)
	$(GO) run ./test/conformance build

# Not part of test: the suite runs for half an hour or more.
conformance: prereqs build ## run Kubernetes' node conformance tests on the virtual node (results: docs/conformance.md)
	$(GO) run ./test/conformance run --vnode $(VNODE) --procs $(CONFORMANCE_PROCS) --timeout $(CONFORMANCE_TIMEOUT) \
	  --results $(CONFORMANCE_RESULTS) $(if $(CONFORMANCE_FOCUS),--focus '$(CONFORMANCE_FOCUS)') \
	  $(if $(CONFORMANCE_STATE_DIR),--state-dir $(CONFORMANCE_STATE_DIR))

conformance-doc: ## write the last conformance run's results into docs/conformance.md
	$(GO) run ./test/conformance doc --results $(CONFORMANCE_RESULTS)
