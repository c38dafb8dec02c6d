// Package cluster runs a real etcd and a real kube-apiserver on loopback for
// integration tests, benchmarks and demo programs.
//
// One etcd serves a whole test binary: TestMain calls [RunMain], which starts
// etcd with [StartEtcd] and exports its URL in KUBE_INTEGRATION_ETCD_URL.
// Each [Start] (tests) or [New] (plain programs) then runs its own
// kube-apiserver in-process, on a fresh etcd key prefix, so several API
// servers share the etcd without seeing each other's objects. When
// KUBE_INTEGRATION_ETCD_URL is not set, Start and New run a private etcd for
// that one cluster.
//
//	func TestMain(m *testing.M) { os.Exit(cluster.RunMain(m)) }
//
//	func TestSomething(t *testing.T) {
//		c := cluster.Start(t)
//		...
//	}
//
// The API server runs without a controller-manager: the ServiceAccount and
// TaintNodesByCondition admission plugins are disabled, so pods are admitted
// without a service account and nodes created through the API carry no
// not-ready taint. [Cluster.CreateNodes] creates such nodes, already Ready.
//
// A cluster started with [Options.Restartable] can have its API server
// stopped and started again on the same etcd and key prefix
// ([Cluster.RestartAPIServer], or [Cluster.StopAPIServer] and
// [Cluster.StartAPIServer] to act while it is down). Upstream's test server
// binds a new port and makes a new loopback certificate and token each time
// it starts, so such a cluster puts a TCP forwarder at a fixed address in
// front of it, serves a certificate of its own and accepts a static token:
// clients built from Config or KubeconfigPath keep working across restarts,
// as clients of a real kube-apiserver behind a load balancer do.
//
// The etcd binary is looked up in ETCD_BIN, then in <repo>/bin/etcd (built by
// `make etcd`), then in PATH. The API server finds its test certificates
// through the Kubernetes module source, so binaries using this package must
// be built without -trimpath.
//
// Importing this package registers the klog flags (-v, -vmodule, ...) on
// flag.CommandLine, as Kubernetes' integration framework does; a program that
// imports it must not register them again with klog.InitFlags(nil).
package cluster
