package podgroup

// HasReservations reports whether any group holds reserved room (for
// tests).
func (m *Manager) HasReservations() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.reserving) > 0
}

// Every Manager of these tests checks its published queue order at each
// unlock.
func init() { verifyOrders = true }
