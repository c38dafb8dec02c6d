package podgroup

import "github.com/gangsched/gangsched/resources"

// Every Manager of these tests checks its published queue order and its
// groups' tallies at each unlock.
func init() { verifyDerived = true }

// VerifyDerived turns the check at each unlock on or off (benchmarks turn
// it off: it visits every group), and returns what puts it back.
func VerifyDerived(on bool) (restore func()) {
	was := verifyDerived
	verifyDerived = on
	return func() { verifyDerived = was }
}

// OwnReservation returns the room reserved for key on each node (a copy), or
// nil.
func (m *Manager) OwnReservation(key Key) map[string]resources.List {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.reserving[key]
	if g == nil {
		return nil
	}
	out := make(map[string]resources.List, len(g.reserved))
	for node, r := range g.reserved {
		out[node] = r.Clone()
	}
	return out
}
