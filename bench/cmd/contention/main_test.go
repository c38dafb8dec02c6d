package main

import (
	"reflect"
	"testing"

	"github.com/gangsched/gangsched/bench/sim"
)

func TestParseQueues(t *testing.T) {
	got, err := parseQueues("etl=2:0.5, adhoc=1:0.5")
	if want := []sim.Queue{{Name: "etl", Weight: 2, Share: 0.5}, {Name: "adhoc", Weight: 1, Share: 0.5}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if got, err := parseQueues(""); err != nil || got != nil {
		t.Errorf("empty: got %v, %v", got, err)
	}
	for _, bad := range []string{"etl", "etl=2", "etl=x:0.5", "=1:0.5", "etl=-1:0.5", "etl=1:0"} {
		if _, err := parseQueues(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
