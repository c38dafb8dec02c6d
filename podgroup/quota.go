package podgroup

import (
	v1 "k8s.io/api/core/v1"
)

// Quotas answers for a namespace's ResourceQuotas: the API server refuses
// a pod that would take a quota over its hard limit, so a group whose
// members still to come do not fit its namespace's quotas would be admitted
// with its room reserved, and then never get its members.
type Quotas interface {
	// Any reports whether the namespace has a ResourceQuota.
	Any(namespace string) bool
	// Check says which quota of the namespace the pods would take over its
	// hard limit, counted with what the quotas use and with held (pods
	// other groups were admitted with and have not created yet); "" when
	// every quota holds them.
	Check(namespace string, pods, held []*v1.Pod) string
}

// SetQuotas gives the Manager the namespaces' ResourceQuotas; without, no
// quota is checked.
func (m *Manager) SetQuotas(q Quotas) {
	m.mu.Lock()
	m.quotas = q
	m.unlock()
}

// quotaCheckLocked says why g's namespace quotas do not let it in, or "":
// every ResourceQuota of the namespace must hold the members g will still
// create (existing members are counted in the quotas' use already), with
// the members still to come of the namespace's other admitted groups.
func (m *Manager) quotaCheckLocked(g *Group) string {
	if m.quotas == nil || !m.quotas.Any(g.key.Namespace) {
		return ""
	}
	pods := m.toComeLocked(g)
	if len(pods) == 0 {
		return ""
	}
	var held []*v1.Pod
	for _, key := range sortedKeys(m.groups) {
		h := m.groups[key]
		if h == g || h.key.Namespace != g.key.Namespace || len(h.reserved) == 0 || h.draining {
			continue
		}
		if h.phase == PhaseAdmitted || h.phase == PhaseRunning {
			held = append(held, m.toComeLocked(h)...)
		}
	}
	return m.quotas.Check(g.key.Namespace, pods, held)
}

// toComeLocked lists the pods g's members not created yet are planned as,
// one a member (a Total counts as one pod of its size).
func (m *Manager) toComeLocked(g *Group) []*v1.Pod {
	_, placed := g.counts()
	items, required := m.itemsLocked(g, placed)
	var pods []*v1.Pod
	for _, it := range items[:required] {
		switch {
		case it.Pod != nil:
		case it.Total:
			pods = append(pods, g.virtualMember(g.memberTemplate(), it.Requests, 0))
		default:
			pods = append(pods, it.Template)
		}
	}
	return pods
}

// QuotaChanged activates the groups of namespace that wait for its quotas:
// one of its ResourceQuotas changed, and may hold them now.
func (m *Manager) QuotaChanged(namespace string) Actions {
	m.mu.Lock()
	defer m.unlock()
	var acts Actions
	for _, key := range sortedKeys(m.groups) {
		if g := m.groups[key]; g.key.Namespace == namespace && g.phase == PhasePending && g.lastEvent == ReasonWaiting+"/quota" {
			g.failure = nil
			acts.Activate = append(acts.Activate, g.pendingPods()...)
		}
	}
	return acts
}
