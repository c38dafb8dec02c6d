package podgroup

// HasReservations reports whether any group holds reserved room (for
// tests).
func (m *Manager) HasReservations() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.reserving) > 0
}

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
