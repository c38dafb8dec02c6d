# gangsched — every target installs or builds what it needs into ./bin.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
VERSION ?= v0.1.0
K8S_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null)
LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION)-gangsched-$(VERSION)
# Integration tests start many API servers; give them time on 2 cores.
TEST_TIMEOUT ?= 25m

.PHONY: all build image bench-go fuzz kwok test unit integration vet etcd generate demo clean

all: build

## build: the gang-scheduler binary and the kubectl-gang plugin in ./bin
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/gang-scheduler ./cmd/gang-scheduler
	$(GO) build -o $(BIN)/kubectl-gang ./cmd/kubectl-gang

## image: the container image manifests/ deploys (needs a Docker engine)
IMAGE ?= ghcr.io/gangsched/gang-scheduler:$(VERSION)
image:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/gang-scheduler-static ./cmd/gang-scheduler
	docker build -t $(IMAGE) .

## etcd: a real etcd in ./bin, built from the Go module proxy (hack/tools/etcd)
etcd: $(BIN)/etcd
$(BIN)/etcd: hack/tools/etcd/go.mod hack/tools/etcd/main.go
	cd hack/tools/etcd && $(GO) build -o $(BIN)/etcd .

## vet: go vet over every package
vet:
	$(GO) vet ./...

## unit: the tests of pure logic (no API server)
unit:
	$(GO) test ./apis/... ./resources/... ./podgroup/... ./plugins/... ./test/wrappers/...

## integration: the tests against a real etcd and kube-apiserver, and of the built binary
integration: etcd build
	ETCD_BIN=$(BIN)/etcd GANG_SCHEDULER_BIN=$(BIN)/gang-scheduler KUBECTL_GANG_BIN=$(BIN)/kubectl-gang $(GO) test -timeout $(TEST_TIMEOUT) ./test/...

## test: vet, unit and integration tests — what CI runs
test: etcd build vet
	ETCD_BIN=$(BIN)/etcd GANG_SCHEDULER_BIN=$(BIN)/gang-scheduler KUBECTL_GANG_BIN=$(BIN)/kubectl-gang $(GO) test -timeout $(TEST_TIMEOUT) ./...

## kwok: fake nodes and pod lifecycle, built from its Go module
KWOK_VERSION := v0.8.0
kwok: $(BIN)/kwok
$(BIN)/kwok:
	GOBIN=$(BIN) GOFLAGS=-mod=mod $(GO) install sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION)

## demo: Spark-like apps under contention on an embedded cluster with kwok nodes, default scheduler vs gangsched
demo: build etcd kwok
	ETCD_BIN=$(BIN)/etcd $(GO) run ./bench/cmd/demo -scheduler-binary $(BIN)/gang-scheduler -kwok $(BIN)/kwok \
		-kwok-module $$($(GO) env GOMODCACHE)/sigs.k8s.io/kwok@$(KWOK_VERSION) -out _output/demo

## bench-go: Go benchmarks of the hot paths (planning, admission, fair share, Filter/Score) at 1,000 and 5,000 nodes
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./podgroup ./queue ./plugins/gang

## fuzz: each fuzz target for FUZZTIME (seed corpora in */testdata/fuzz run in make test)
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./resources -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./podgroup -run '^$$' -fuzz '^FuzzSpecFromSparkDriver$$' -fuzztime $(FUZZTIME)
	$(GO) test ./podgroup -run '^$$' -fuzz '^FuzzSpecFromPodGroup$$' -fuzztime $(FUZZTIME)
	$(GO) test ./queue -run '^$$' -fuzz '^FuzzDivide$$' -fuzztime $(FUZZTIME)
	$(GO) test ./queue -run '^$$' -fuzz '^FuzzBuild$$' -fuzztime $(FUZZTIME)

## generate: deepcopy, clientset, listers and informers for the API types, and the Queue CRD
generate:
	hack/update-codegen.sh

clean:
	rm -rf $(BIN) _output
