// Package perf runs Kubernetes' scheduler_perf benchmark
// (k8s.io/kubernetes/test/integration/scheduler_perf) over
// performance-config.yaml: upstream's gang scheduling (GenericWorkload,
// scheduling.k8s.io PodGroups) on the default profile and gangsched's
// profile on the same gangs as scheduler-plugins PodGroups, and plain pods
// (SchedulingBasic) through both profiles.
//
// The benchmark is behind the build tag "perf", so `go test ./...` and
// `go vet ./...` do not build its test binary (it links the API server and
// the scheduler, minutes on 2 cores). Run it with `make perf-short` (500
// nodes, minutes) or `make perf` (5,000 nodes); bench/perf/report prints
// the table from the JSON data items it writes.
//
// scheduler_perf starts a fresh etcd for every workload, the first etcd in
// PATH (make puts ./bin, from make etcd, first), on a unix socket, and
// ignores KUBE_INTEGRATION_ETCD_URL; its API server is
// cmd/kube-apiserver/app/testing.StartTestServer, which serves CRDs. The
// plugin factories of the registry install gangsched's CRDs before the
// plugin starts (perf_test.go).
package perf
