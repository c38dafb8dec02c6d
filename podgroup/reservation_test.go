package podgroup

import (
	"fmt"
	"testing"

	"github.com/gangsched/gangsched/resources"
)

// The reservation written at admission reads back as written, and is left
// out rather than written when too many nodes would make it too big for an
// object's annotations.
func TestReservationAnnotationRoundTrip(t *testing.T) {
	in := map[string]resources.List{"b": {"cpu": 2000, "memory": 4 << 30}, "a": {"cpu": 500}}
	v := FormatReservation(in)
	if v != `{"a":{"cpu":"500m"},"b":{"cpu":"2","memory":"4Gi"}}` {
		t.Errorf("FormatReservation = %s", v)
	}
	out, err := ParseReservation(v)
	if err != nil || len(out) != 2 || !out["a"].Equal(in["a"]) || !out["b"].Equal(in["b"]) {
		t.Errorf("ParseReservation(%s) = %v, %v; want %v", v, out, err, in)
	}
	if _, err := ParseReservation("{"); err == nil {
		t.Error("ParseReservation of bad JSON: no error")
	}
	many := map[string]resources.List{}
	for i := range 2000 {
		many[fmt.Sprintf("node-%04d", i)] = resources.List{"cpu": 1000, "memory": 1 << 30}
	}
	if v := FormatReservation(many); v != "" {
		t.Errorf("FormatReservation of 2000 nodes = %d bytes, want it left out (cap %d)", len(v), MaxReservationAnnotation)
	}
	if FormatReservation(nil) != "" {
		t.Error("FormatReservation(nil) is not empty")
	}
}
