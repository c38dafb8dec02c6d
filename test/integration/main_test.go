// Package integration tests gang-scheduler against a real kube-apiserver
// backed by a real etcd, both on loopback: the scheduler runs in-process,
// built exactly as cmd/gang-scheduler builds it, with its configuration read
// from a KubeSchedulerConfiguration file.
package integration

import (
	"os"
	"testing"

	"github.com/gangsched/gangsched/test/cluster"
)

func TestMain(m *testing.M) { os.Exit(cluster.RunMain(m)) }
