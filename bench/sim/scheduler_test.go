package sim

import "testing"

func TestSumMetric(t *testing.T) {
	page := `# HELP gangsched_groups Pod groups the scheduler tracks.
# TYPE gangsched_groups gauge
gangsched_groups{phase="Pending"} 2
gangsched_groups{phase="Running"} 3.5
gangsched_groups_other 100
go_goroutines 42
`
	if v, ok := SumMetric(page, "gangsched_groups"); !ok || v != 5.5 {
		t.Errorf("gangsched_groups = %v, %v; want 5.5", v, ok)
	}
	if v, ok := SumMetric(page, "go_goroutines"); !ok || v != 42 {
		t.Errorf("go_goroutines = %v, %v; want 42", v, ok)
	}
	if _, ok := SumMetric(page, "missing"); ok {
		t.Error("found a metric that is not there")
	}
}
