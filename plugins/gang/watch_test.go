package gang

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	w "github.com/gangsched/gangsched/test/wrappers"
)

// A pod deleted and created again under the same name while the watch was
// cut reaches the handlers as one update: the old pod is removed before the
// new one is added, or the Manager would keep the old one (a preemption
// victim it waits for, room it counts) forever.
func TestHandlersRemoveAnObjectReplacedUnderItsName(t *testing.T) {
	var got []string
	h := handlers(func(p *v1.Pod) { got = append(got, "upsert "+string(p.UID)) },
		func(p *v1.Pod) { got = append(got, "remove "+string(p.UID)) })
	old := w.MakePod("ns", "driver").UID("a").Obj()
	same := old.DeepCopy()
	same.ResourceVersion = "2"
	h.OnUpdate(old, same)
	h.OnUpdate(old, w.MakePod("ns", "driver").UID("b").Obj())
	h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/driver", Obj: w.MakePod("ns", "driver").UID("b").Obj()})
	want := []string{"upsert a", "remove a", "upsert b", "remove b"}
	if len(got) != len(want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("calls = %v, want %v", got, want)
		}
	}
}
