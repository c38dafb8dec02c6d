package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

const zoneLabel = "topology.kubernetes.io/zone"

// zoneNodes creates n nodes of cpu cores in zone z, named <z>-<i>.
func (e *env) zoneNodes(z string, n int, cpu string) {
	e.t.Helper()
	for i := 0; i < n; i++ {
		e.node(w.MakeNode(fmt.Sprintf("%s-%d", z, i), "cpu", cpu, "memory", "32Gi").Label(zoneLabel, z))
	}
}

// zoneOf returns the zone of the node the pod is bound to.
func (e *env) zoneOf(pod string) string {
	node := e.podNode(pod)
	z, _, _ := strings.Cut(node, "-")
	return z
}

// A Spark app that requires one zone is admitted in the zone it fits whole
// (not the one with room for only part of it), every member is placed
// there, and an executor beyond its gang waits for room in that zone
// while the other zone has room.
func TestGangPlacedInOneZone(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.zoneNodes("a", 2, "2") // 4 CPU: not enough
	e.zoneNodes("b", 2, "3") // 6 CPU: the app's 5, one more
	driver := w.MakeSparkDriver("", "shuffle").Req("cpu", "1").Executors(4, "cpu=1").
		Annotation(podgroup.AnnotationRequiredTopology, zoneLabel).Obj()
	var execs []*v1.Pod
	for i := 1; i <= 6; i++ {
		execs = append(execs, w.MakeSparkExecutor("", "shuffle", i, driver).Req("cpu", "1").Obj())
	}
	e.sparkDriver(e.create(driver)[0], execs...)
	e.waitBound(20*time.Second, driver.Name)
	e.waitEvent("Pod", driver.Name, podgroup.ReasonAdmitted, "all in "+zoneLabel+"=b")
	e.waitBound(20*time.Second, names(execs[:5]...)...)
	for _, p := range append([]*v1.Pod{driver}, execs[:5]...) {
		if z := e.zoneOf(p.Name); z != "b" {
			t.Errorf("%s bound in zone %s, want b", p.Name, z)
		}
	}
	e.stayUnbound(2*time.Second, execs[5].Name)
}

// A gang that requires one zone waits, naming the zones, while no zone
// holds it though the cluster does; one that prefers a zone is spread over
// both, saying why.
func TestRequiredZoneWaitsPreferredSpreads(t *testing.T) {
	e := newEnv(t, gangConfig(nil))
	e.zoneNodes("a", 2, "2")
	e.zoneNodes("b", 2, "2")
	strict := w.MakeSparkDriver("", "strict").Req("cpu", "1").Executors(5, "cpu=1").
		Annotation(podgroup.AnnotationRequiredTopology, zoneLabel).Obj()
	e.create(strict)
	e.waitCondition(strict.Name, "fits in no "+zoneLabel+" of 2: "+zoneLabel+"=a needs cpu 6 for 6 pods, cpu 4 free")
	e.stayUnbound(time.Second, strict.Name)
	if err := e.c.Client.CoreV1().Pods(e.ns).Delete(e.ctx, strict.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	loose := w.MakeSparkDriver("", "loose").Req("cpu", "1").Executors(5, "cpu=1").
		Annotation(podgroup.AnnotationPreferredTopology, zoneLabel).Obj()
	var execs []*v1.Pod
	for i := 1; i <= 5; i++ {
		execs = append(execs, w.MakeSparkExecutor("", "loose", i, loose).Req("cpu", "1").Obj())
	}
	e.sparkDriver(e.create(loose)[0], execs...)
	e.waitBound(20*time.Second, append(names(execs...), loose.Name)...)
	e.waitEvent("Pod", loose.Name, podgroup.ReasonAdmitted, "spread over the nodes: it fits in no "+zoneLabel)
	zones := map[string]bool{}
	for _, p := range append(execs, loose) {
		zones[e.zoneOf(p.Name)] = true
	}
	if len(zones) != 2 {
		t.Errorf("the preferred gang is in zones %v, want both", zones)
	}
}
