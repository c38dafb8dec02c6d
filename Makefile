# gangsched — every target installs or builds what it needs into ./bin.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
VERSION ?= v0.1.0
K8S_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null)
LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION)-gangsched-$(VERSION)
# Integration tests start many API servers; give them time on 2 cores.
TEST_TIMEOUT ?= 25m

.PHONY: all build race-build race-integration previous-release chaos helm image image-context promql-metrics bench bench-elastic bench-large bench-go perf perf-short soak coscheduling fuzz kwok lint race spark spark-operator test test-spark unit integration vet etcd generate demo spark-demo clean

all: build

## build: the gang-scheduler binary and the kubectl-gang plugin in ./bin, static (no cgo): the image holds
## exactly the binary the tests run
build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/gang-scheduler ./cmd/gang-scheduler
	CGO_ENABLED=0 $(GO) build -o $(BIN)/kubectl-gang ./cmd/kubectl-gang

## image: the container image manifests/ deploys, FROM scratch (nothing pulled from a registry; needs a Docker engine)
IMAGE ?= ghcr.io/gangsched/gang-scheduler:$(VERSION)
image: build
	$(MAKE) image-context
	docker build -f Dockerfile -t $(IMAGE) $(IMAGE_CONTEXT)

## image-context: what the image holds, staged in $(IMAGE_CONTEXT): the static binary, this machine's CA bundle
## (Debian's ca-certificates) and a passwd/group naming the non-root user 65532
IMAGE_CONTEXT ?= $(CURDIR)/_output/image
IMAGE_BINARY ?= $(BIN)/gang-scheduler
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
image-context:
	@test -f $(CA_BUNDLE) || { echo "no CA bundle at $(CA_BUNDLE): apt-get install ca-certificates, or set CA_BUNDLE"; exit 1; }
	rm -rf $(IMAGE_CONTEXT) && mkdir -p $(IMAGE_CONTEXT)/etc/ssl/certs
	cp $(IMAGE_BINARY) $(IMAGE_CONTEXT)/gang-scheduler
	cp $(CA_BUNDLE) $(IMAGE_CONTEXT)/etc/ssl/certs/ca-certificates.crt
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > $(IMAGE_CONTEXT)/etc/passwd
	printf 'root:x:0:\nnonroot:x:65532:\n' > $(IMAGE_CONTEXT)/etc/group

## race-build: gang-scheduler built with the race detector, for the chaos tests (test/chaos)
race-build:
	$(GO) build -race -ldflags "$(LDFLAGS)" -o $(BIN)/gang-scheduler-race ./cmd/gang-scheduler

## previous-release: the gang-scheduler of the previous release (PREVIOUS_RELEASE, a commit of this repository:
## the main that landed before this release's work), built from its tree (git archive) into
## bin/gang-scheduler-previous; the chaos tests' rolling upgrade starts on it. Bump it at each release.
PREVIOUS_RELEASE ?= 17b5dd15c06385b1a9f4b255358a0126ab78ade9
previous-release: $(BIN)/gang-scheduler-previous
$(BIN)/gang-scheduler-previous: Makefile
	@git cat-file -e $(PREVIOUS_RELEASE)^{commit} 2>/dev/null || { \
	  echo "previous-release: commit $(PREVIOUS_RELEASE) is not in this clone (shallow?): git fetch --unshallow"; exit 1; }
	rm -rf $(CURDIR)/_output/previous && mkdir -p $(CURDIR)/_output/previous
	git archive $(PREVIOUS_RELEASE) | tar -x -C $(CURDIR)/_output/previous
	cd $(CURDIR)/_output/previous && CGO_ENABLED=0 $(GO) build \
	  -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION)-gangsched-$(shell echo $(PREVIOUS_RELEASE) | cut -c1-12)" \
	  -o $@ ./cmd/gang-scheduler
	rm -rf $(CURDIR)/_output/previous

## etcd: a real etcd in ./bin, built from the Go module proxy (hack/tools/etcd)
etcd: $(BIN)/etcd
$(BIN)/etcd: hack/tools/etcd/go.mod hack/tools/etcd/main.go
	cd hack/tools/etcd && $(GO) build -o $(BIN)/etcd .

## helm: the Helm CLI (helm.sh/helm/v4) in ./bin, built from the Go module proxy in its own module (hack/tools/helm);
## the chart test renders and installs manifests/chart/gang-scheduler with it
helm: $(BIN)/helm
$(BIN)/helm: hack/tools/helm/go.mod
	cd hack/tools/helm && $(GO) build -o $@ helm.sh/helm/v4/cmd/helm

## promql-metrics: lists the metrics each Grafana dashboard query selects, with Prometheus' PromQL parser
## (hack/tools/promql-metrics, its own module); the dashboard test checks them against a scrape of the binary
promql-metrics: $(BIN)/promql-metrics
$(BIN)/promql-metrics: hack/tools/promql-metrics/go.mod hack/tools/promql-metrics/main.go
	cd hack/tools/promql-metrics && $(GO) build -o $@ .

## lint: golangci-lint (.golangci.yml), built from the Go module proxy in its own module (hack/tools/golangci-lint)
lint: $(BIN)/golangci-lint
	$(BIN)/golangci-lint run ./...
$(BIN)/golangci-lint: hack/tools/golangci-lint/go.mod
	cd hack/tools/golangci-lint && $(GO) build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

## vet: go vet over every package
vet:
	$(GO) vet ./...

## unit: the tests of pure logic (no API server)
UNIT_PKGS = ./apis/... ./resources/... ./podgroup/... ./plugins/... ./queue/... ./status/... ./metrics/... ./manifests/... \
	./test/wrappers/...
unit:
	$(GO) test $(UNIT_PKGS)

## race: the tests of pure logic under the race detector (in make test)
race:
	$(GO) test -race $(UNIT_PKGS)

## race-integration: integration tests of admission, preemption, restarts and elastic gangs under the race detector
## (the scheduler runs in the test's process); the chaos runs cover the binary under faults (in make test)
RACE_INTEGRATION ?= TestGroupBindsWholeOrNotAtAll|TestSparkAppsDoNotDeadlock|TestDriverReservationHoldsAgainstFlood|TestPartialBinding.*|TestExtraExecutorsPreemptedBeforeWholeApps|TestPriorityPreemptsWholeGroups|TestRestartKeepsReservations|TestNodeDeletedUnderReservation|TestMemberDeletedInPermitReleasesGroup
race-integration: etcd
	ETCD_BIN=$(BIN)/etcd $(GO) test -race -timeout $(TEST_TIMEOUT) ./test/integration/ -run '^($(RACE_INTEGRATION))$$'

## integration: the tests against a real etcd and kube-apiserver, and of the built binary
integration: etcd build helm promql-metrics
	ETCD_BIN=$(BIN)/etcd GANG_SCHEDULER_BIN=$(BIN)/gang-scheduler KUBECTL_GANG_BIN=$(BIN)/kubectl-gang HELM_BIN=$(BIN)/helm \
	  PROMQL_METRICS_BIN=$(BIN)/promql-metrics $(GO) test -timeout $(TEST_TIMEOUT) ./test/...

## test: vet, lint, the unit tests under the race detector, unit and integration tests, integration tests of the
## scheduler's core under the race detector, then the real-Spark tests on their own (their JVMs would slow the others
## down) — what CI runs
TEST_ENV = ETCD_BIN=$(BIN)/etcd GANG_SCHEDULER_BIN=$(BIN)/gang-scheduler KUBECTL_GANG_BIN=$(BIN)/kubectl-gang \
	GANG_SCHEDULER_RACE_BIN=$(BIN)/gang-scheduler-race GANG_SCHEDULER_PREVIOUS_BIN=$(BIN)/gang-scheduler-previous HELM_BIN=$(BIN)/helm PROMQL_METRICS_BIN=$(BIN)/promql-metrics
test: etcd build race-build previous-release helm promql-metrics vet lint race spark spark-operator
	$(TEST_ENV) $(GO) test -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v /test/spark)
	$(MAKE) race-integration
	$(MAKE) test-spark

## test-spark: real spark-submit, driver and executor JVMs through gang-scheduler (test/spark)
test-spark: etcd build spark spark-operator
	$(TEST_ENV) GANGSCHED_SPARK_HOME=$(SPARK_HOME) SPARK_OPERATOR_BIN=$(BIN)/spark-operator \
	  SPARK_OPERATOR_CRDS=$(SPARK_OPERATOR_CRDS) GANGSCHED_REQUIRE_SPARK=1 $(GO) test -timeout $(TEST_TIMEOUT) ./test/spark/...

## spark: Apache Spark (the pyspark sdist from PyPI carries spark-submit, the Kubernetes jars and pi.py) in
## ./bin/pyspark-$(SPARK_VERSION); SPARK_HOME is its deps/ folder
SPARK_VERSION := 4.3.0
SPARK_HOME := $(BIN)/pyspark-$(SPARK_VERSION)/deps
spark: $(SPARK_HOME)/bin/spark-submit
$(SPARK_HOME)/bin/spark-submit:
	mkdir -p $(BIN)/dl
	python3 -m pip download --quiet --no-deps --no-binary :all: -d $(BIN)/dl pyspark==$(SPARK_VERSION)
	tar xzf $(BIN)/dl/pyspark-$(SPARK_VERSION).tar.gz -C $(BIN)
	rm -f $(BIN)/dl/pyspark-$(SPARK_VERSION).tar.gz
	test -x $@

## spark-operator: Spark Operator's controller and webhook (kubeflow/spark-operator $(SPARK_OPERATOR_VERSION),
## built from the Go module proxy in its own module, hack/tools/spark-operator) and its CRDs, in ./bin
SPARK_OPERATOR_VERSION := v2.3.0
SPARK_OPERATOR_CRDS := $(BIN)/spark-operator-crds
spark-operator: $(BIN)/spark-operator
$(BIN)/spark-operator: hack/tools/spark-operator/go.mod hack/tools/spark-operator/main.go
	cd hack/tools/spark-operator && $(GO) build \
	  -ldflags "-X github.com/kubeflow/spark-operator/v2.version=$(SPARK_OPERATOR_VERSION)" -o $@.tmp .
	rm -rf $(SPARK_OPERATOR_CRDS) && mkdir -p $(SPARK_OPERATOR_CRDS)
	cp "$$(cd hack/tools/spark-operator && $(GO) list -m -f '{{.Dir}}' github.com/kubeflow/spark-operator/v2)"/config/crd/bases/*.yaml \
	  $(SPARK_OPERATOR_CRDS)/
	chmod u+w $(SPARK_OPERATOR_CRDS)/*.yaml
	mv $@.tmp $@

## kwok: fake nodes and pod lifecycle, built from its Go module
KWOK_VERSION := v0.8.0
kwok: $(BIN)/kwok
$(BIN)/kwok:
	GOBIN=$(BIN) GOFLAGS=-mod=mod $(GO) install sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION)

## coscheduling: scheduler-plugins' scheduler (v0.34.7, on Kubernetes 1.34), for the benchmark's comparison
coscheduling: $(BIN)/coscheduling-scheduler
$(BIN)/coscheduling-scheduler: bench/coscheduling/go.mod bench/coscheduling/main.go
	cd bench/coscheduling && $(GO) build -o $(BIN)/coscheduling-scheduler .

CONTENTION = ETCD_BIN=$(BIN)/etcd $(GO) run ./bench/cmd/contention -scheduler-binary $(BIN)/gang-scheduler \
	-kwok $(BIN)/kwok -kwok-module $$($(GO) env GOMODCACHE)/sigs.k8s.io/kwok@$(KWOK_VERSION)

## spark-demo: real SparkPi apps (spark-submit, driver and executor JVMs on this machine) under contention on an
## embedded cluster, kube-scheduler's default profile vs gangsched
spark-demo: build etcd spark
	ETCD_BIN=$(BIN)/etcd $(GO) run ./bench/cmd/spark-demo -scheduler-binary $(BIN)/gang-scheduler -spark-home $(SPARK_HOME)

## demo: Spark-like apps under contention on an embedded cluster with kwok nodes, default scheduler vs gangsched
demo: build etcd kwok
	$(CONTENTION) -out _output/demo -queues etl=2:0.5,adhoc=1:0.5

## bench: the full comparison — 1,000 kwok nodes, 200 Spark apps of 40-80 executors (3x the cluster) in 3 queues
## with 2 priorities, and plain pods — with the default scheduler, gangsched and scheduler-plugins' Coscheduling
## (results in _output/bench); then the soak
BENCH_FLAGS ?= -nodes 1000 -node-cpu 4 -node-memory 32Gi -apps 200 -min-executors 40 -max-executors 80 \
	-work 40s -interarrival 30ms -podgroup-share 1 -queues prod=3:0.4,etl=2:0.3,adhoc=1:0.3 \
	-high-priority-share 0.2 -plain-pods-per-second 5 -plain-pod-cpu 500m -plain-pod-run 10s -plain-pods-for 3m \
	-stall 30s -timeout 15m
bench: build etcd kwok coscheduling
	$(CONTENTION) -out _output/bench -coscheduling-binary $(BIN)/coscheduling-scheduler $(BENCH_FLAGS)
	$(MAKE) bench-elastic soak

## bench-elastic: the same input with half the apps elastic (Spark's dynamic allocation: a gang of a quarter of
## their executors, growing to all), the same three schedulers (results in _output/bench-elastic)
bench-elastic: build etcd kwok coscheduling
	$(CONTENTION) -out _output/bench-elastic -coscheduling-binary $(BIN)/coscheduling-scheduler $(BENCH_FLAGS) \
	  -elastic-share 0.5 -elastic-min 0.25

## bench-large: the make bench workload at 5,000 kwok nodes (of 2 CPU), 400 apps (2.4x the cluster), the same three
## schedulers (results in _output/bench-large; ~45 min on 2 cores)
BENCH_LARGE_FLAGS ?= $(BENCH_FLAGS) -nodes 5000 -node-cpu 2 -node-memory 16Gi -apps 400 -timeout 30m
bench-large: build etcd kwok coscheduling
	$(CONTENTION) -out _output/bench-large -coscheduling-binary $(BIN)/coscheduling-scheduler $(BENCH_LARGE_FLAGS)

## soak: thousands of short apps through gangsched, each deleted when done: no group left behind, memory flat
SOAK_FLAGS ?= -apps 2000
soak: build etcd kwok
	ETCD_BIN=$(BIN)/etcd $(GO) run ./bench/cmd/soak -scheduler-binary $(BIN)/gang-scheduler -kwok $(BIN)/kwok \
		-kwok-module $$($(GO) env GOMODCACHE)/sigs.k8s.io/kwok@$(KWOK_VERSION) -out _output/soak $(SOAK_FLAGS)

## bench-go: Go benchmarks of the hot paths (planning, admission, fair share, Filter/Score) at 1,000 and 5,000 nodes
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./podgroup ./queue ./plugins/gang

## perf: kube-scheduler's scheduler_perf (k8s.io/kubernetes/test/integration/scheduler_perf) at 5,000 nodes:
## upstream's gang scheduling (default profile, GenericWorkload) and gangsched's profile on the same gangs, and
## SchedulingBasic through both (bench/perf/performance-config.yaml). Prints the table of pods/s, attempt
## latencies and gangsched/default ratios, also written to _output/perf/table.md. Each workload runs on its own
## (one go test each), the default profile and gangsched's one right after the other, so that both share the
## load of the moment; PERF_COUNT repeats the whole list and the table gives medians. PERF_WORKLOADS and
## PERF_CASES narrow the run (workload names; a -bench regexp for the test cases), PERF_FLAGS adds
## scheduler_perf flags (-perf-cpuprofile: a CPU profile per workload, next to its data items).
## perf-short: the same at 500 nodes, three times, in about 10 minutes (_output/perf-short)
PERF_CONFIG := bench/perf/performance-config.yaml
PERF_CASES ?= .
PERF_FLAGS ?=
PERF_TIMEOUT ?= 2h
perf: PERF_LABELS := performance
perf: PERF_COUNT ?= 1
perf: PERF_OUT := $(CURDIR)/_output/perf
perf: PERF_WORKLOADS ?= $(shell sed -n 's/^  - name: \(5000Nodes_[A-Za-z0-9_]*\)$$/\1/p' $(PERF_CONFIG) | sort -u)
perf-short: PERF_LABELS := short
perf-short: PERF_COUNT ?= 3
perf-short: PERF_OUT := $(CURDIR)/_output/perf-short
perf-short: PERF_WORKLOADS ?= $(shell sed -n 's/^  - name: \(500Nodes_[A-Za-z0-9_]*\)$$/\1/p' $(PERF_CONFIG) | sort -u)
perf perf-short: etcd
	$(GO) test -tags perf -c -o $(BIN)/perf.test ./bench/perf
	rm -rf $(PERF_OUT) && mkdir -p $(PERF_OUT)/logs
	cd bench/perf && for i in $$(seq $(PERF_COUNT)); do for w in $(PERF_WORKLOADS); do \
	  echo "round $$i: $$w"; mkdir -p $(PERF_OUT)/$$i-$$w; \
	  PATH=$(BIN):$$PATH ARTIFACTS=$(PERF_OUT)/logs $(BIN)/perf.test -test.run '^$$' \
	    -test.bench "BenchmarkPerfScheduling/$(PERF_CASES)/^$$w\$$" -test.benchtime=1ns -test.timeout $(PERF_TIMEOUT) \
	    -perf-scheduling-label-filter=$(PERF_LABELS) -data-items-dir=$(PERF_OUT)/$$i-$$w $(PERF_FLAGS) \
	    >> $(PERF_OUT)/bench.log 2>&1 || { tail -50 $(PERF_OUT)/bench.log; exit 1; }; \
	done; done
	grep -E '^(Benchmark|--- FAIL|FAIL|PASS)' $(PERF_OUT)/bench.log | cut -c1-160
	$(GO) run ./bench/perf/report -markdown $(PERF_OUT)/*/BenchmarkPerfScheduling_benchmark_gangsched_*.json > $(PERF_OUT)/table.md
	$(GO) run ./bench/perf/report $(PERF_OUT)/*/BenchmarkPerfScheduling_benchmark_gangsched_*.json

## chaos: the long chaos runs (test/chaos): the contention workload of CHAOS_APPS apps with CHAOS_KILLS scheduler
## kills, as many with two replicas and leader failover, as many API brownouts, half as many API server restarts,
## and a rolling upgrade from the previous release, per seed, the invariant checker (test/invariant) watching, the
## scheduler built with the race detector. Figures in the log (_output/chaos/chaos.log).
CHAOS_KILLS ?= 20
CHAOS_APPS ?= 60
CHAOS_SEEDS ?= 1,2
chaos: etcd race-build previous-release
	mkdir -p _output/chaos
	ETCD_BIN=$(BIN)/etcd GANG_SCHEDULER_RACE_BIN=$(BIN)/gang-scheduler-race GANG_SCHEDULER_PREVIOUS_BIN=$(BIN)/gang-scheduler-previous \
	  $(GO) test -count=1 -timeout 2h -v ./test/chaos/ \
	  -chaos.kills=$(CHAOS_KILLS) -chaos.apps=$(CHAOS_APPS) -chaos.seeds=$(CHAOS_SEEDS) $(CHAOS_FLAGS) 2>&1 | tee _output/chaos/chaos.log | \
	  grep -E '^(---|ok|FAIL|PASS)|chaos_test.go|struck|violations'; test $${PIPESTATUS[0]} -eq 0

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
