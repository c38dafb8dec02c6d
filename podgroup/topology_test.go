package podgroup_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2/ktesting"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
	w "github.com/gangsched/gangsched/test/wrappers"
)

const zone = "topology.kubernetes.io/zone"

// zoneRoom is a node of cpu free cores in zone z.
func zoneRoom(name, z string, cpu int64) podgroup.NodeRoom {
	return podgroup.NodeRoom{Name: name, Node: w.MakeNode(name).Label(zone, z).Obj(), Free: resources.List{"cpu": cpu * 1000, "pods": 110}}
}

// zones: a has 2+2 CPU free, b 3+3, c 8 on one node.
var zones = []podgroup.NodeRoom{
	zoneRoom("a-0", "a", 2), zoneRoom("a-1", "a", 2),
	zoneRoom("b-0", "b", 3), zoneRoom("b-1", "b", 3),
	zoneRoom("c-0", "c", 8),
}

// A group that asks for one zone is planned in the zone it fills best,
// all its room reserved there.
func TestTopologyPlansInTheTightestZone(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	driver := w.MakeSparkDriver("ns", "shuffle").Req("cpu", "1").Executors(4, "cpu=1").
		Annotation(podgroup.AnnotationRequiredTopology, zone).Obj()
	m.UpsertPod(driver)
	adm := m.Admit(logger, driver, fixed(zones))
	if !adm.Admitted {
		t.Fatalf("Admit = %q", adm.Message)
	}
	for node := range m.OwnReservation(adm.Key) {
		if !strings.HasPrefix(node, "b-") {
			t.Errorf("room reserved on %s, want zone b: the 5 CPU do not fit in a (4 free), and fill b (6) more than c (8)", node)
		}
	}
	if !contains(adm.Events, "all in "+zone+"=b") {
		t.Errorf("events %+v, want the admission to name zone b", adm.Events)
	}
	if label, value, ok := m.Domain(adm.Key); !ok || label != zone || value != "b" {
		t.Errorf("Domain = %s=%s %v, want %s=b", label, value, ok, zone)
	}
}

// A required topology that no zone holds waits, saying so for each zone,
// though the cluster as a whole has room; a preferred one spreads.
func TestTopologyRequiredWaitsPreferredSpreads(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	big := w.MakeSparkDriver("ns", "big").Req("cpu", "1").Executors(9, "cpu=1").
		Annotation(podgroup.AnnotationRequiredTopology, zone).Obj()
	m.UpsertPod(big)
	adm := m.Admit(logger, big, fixed(zones))
	if adm.Admitted || !strings.Contains(adm.Message, "fits in no "+zone+" of 3: "+zone+"=a needs cpu 10") {
		t.Fatalf("Admit = %+v, want it to wait naming the zones", adm)
	}

	soft := w.MakeSparkDriver("ns", "soft").Req("cpu", "1").Executors(9, "cpu=1").
		Annotation(podgroup.AnnotationPreferredTopology, zone).Obj()
	m.UpsertPod(soft)
	adm = m.Admit(logger, soft, fixed(zones))
	if !adm.Admitted {
		t.Fatalf("preferred: Admit = %q", adm.Message)
	}
	if !contains(adm.Events, "spread over the nodes: it fits in no "+zone) {
		t.Errorf("events %+v, want the admission to say it spread", adm.Events)
	}
	if _, _, ok := m.Domain(adm.Key); ok {
		t.Error("a spread group is confined to a domain")
	}
}

func contains(events []podgroup.Event, want string) bool {
	for _, e := range events {
		if strings.Contains(e.Message, want) {
			return true
		}
	}
	return false
}

func TestTopologyAnnotationsValidated(t *testing.T) {
	for name, tc := range map[string]struct {
		annotations map[string]string
		field       string
	}{
		"not a label key": {map[string]string{podgroup.AnnotationRequiredTopology: "zone?"}, "metadata.annotations[gangsched.io/required-topology]"},
		"both":            {map[string]string{podgroup.AnnotationRequiredTopology: zone, podgroup.AnnotationPreferredTopology: zone}, "metadata.annotations[gangsched.io/preferred-topology]"},
	} {
		t.Run(name, func(t *testing.T) {
			pg := w.MakePodGroup("ns", "g").MinMember(1).Obj()
			pg.Annotations = tc.annotations
			s := podgroup.SpecFromPodGroup(pg)
			if len(s.Errs) != 1 || s.Errs[0].Field != tc.field {
				t.Errorf("errors %v, want one on %s", s.Errs, tc.field)
			}
			if s.Errs[0].Type != field.ErrorTypeInvalid && s.Errs[0].Type != field.ErrorTypeForbidden {
				t.Errorf("error type %s", s.Errs[0].Type)
			}
		})
	}
}

// zoned is Nodes of one node per zone, whose room follows the pods bound
// on them.
type zoned struct {
	cpu  map[string]int64 // node (its name is its zone) -> cores
	pods []*v1.Pod
}

func (z *zoned) Version() uint64 { return uint64(len(z.pods)) }
func (z *zoned) Rooms() []podgroup.NodeRoom {
	var out []podgroup.NodeRoom
	for _, n := range slices.Sorted(maps.Keys(z.cpu)) {
		r := zoneRoom(n, n, z.cpu[n])
		for _, p := range z.pods {
			if p.Spec.NodeName == n {
				r.Free.Sub(resources.PodRequests(p))
			}
		}
		out = append(out, r)
	}
	return out
}
func (z *zoned) Pods() map[string][]*v1.Pod {
	out := map[string][]*v1.Pod{}
	for _, p := range z.pods {
		out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p)
	}
	return out
}

// A group that requires one zone and fits only spread over two preempts
// inside one zone, and is planned there.
func TestTopologyPreemptsInOneZone(t *testing.T) {
	logger, _ := ktesting.NewTestContext(t)
	m, _ := newManager()
	z := &zoned{cpu: map[string]int64{"a": 4, "b": 4}}
	for _, node := range []string{"a", "b"} {
		name := "low-" + node
		m.UpsertPodGroup(w.MakePodGroup("ns", name).MinMember(1).Obj())
		p := w.MakePod("ns", name+"-0").Group(name).Req("cpu", "2").Priority(1).Node(node).Obj()
		m.UpsertPod(p)
		z.pods = append(z.pods, p)
	}
	m.UpsertPodGroup(w.MakePodGroup("ns", "urgent").MinMember(2).Annotation(podgroup.AnnotationRequiredTopology, zone).Obj())
	first := w.MakePod("ns", "urgent-0").Group("urgent").Req("cpu", "2").Priority(10).Obj()
	m.UpsertPod(first)
	m.UpsertPod(w.MakePod("ns", "urgent-1").Group("urgent").Req("cpu", "2").Priority(10).Obj())
	if adm := m.Admit(logger, first, z); adm.Admitted || !adm.NoRoom {
		t.Fatalf("admitted spread over two zones: %+v", adm)
	}
	plan, _ := m.Preempt(logger, first, z, allow)
	if got := victimNames(plan.Victims); len(got) != 1 || got[0] != "low-a" {
		t.Fatalf("victims %v (%s), want low-a, to make zone a hold the group", got, plan.Message)
	}
	key, _ := podgroup.KeyOf(first)
	if got := reservedNodes(m, key); len(got) != 1 || got["a"] != 4000 {
		t.Errorf("reserved %v, want all 4 CPU on a", got)
	}
	if label, value, ok := m.Domain(key); !ok || label+"="+value != zone+"=a" {
		t.Errorf("Domain = %s=%s %v, want %s=a", label, value, ok, zone)
	}
}
