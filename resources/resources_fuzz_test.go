package resources

import "testing"

// FuzzParse feeds the annotation parser anything: it never panics, never
// yields a negative amount, and what it accepts renders and parses back to
// the same amounts.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"cpu=1,memory=4505Mi", "nvidia.com/gpu=1", "cpu=1500m, memory=4Gi", "", "cpu", "cpu=-1", "=1", "cpu=1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			return
		}
		for name, v := range l {
			if v < 0 {
				t.Fatalf("Parse(%q)[%s] = %d", s, name, v)
			}
		}
		back := FromResourceList(l.ToResourceList())
		if !back.Equal(l) {
			t.Fatalf("Parse(%q) = %v, round trip %v", s, l, back)
		}
	})
}
