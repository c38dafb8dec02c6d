package podgroup

// HasReservations reports whether any group holds reserved room (for
// tests).
func (m *Manager) HasReservations() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.reserving) > 0
}
