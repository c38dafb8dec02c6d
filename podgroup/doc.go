// Package podgroup is gangsched's model of pod groups: which pods belong
// together, what the whole group needs before any of it may hold resources,
// the admission plan that places the group on actual nodes, the room reserved
// for members that do not exist yet, and the phase state machine
//
//	Pending ──admit──▶ Admitted ──quorum──▶ Running ──all done──▶ Finished/Failed
//	   ▲                  │
//	   └────release───────┘  (permit timeout, a member that cannot be placed)
//
// It knows nothing of the scheduling framework: the plugins in plugins/ feed
// it pods, PodGroups and node room, ask it for decisions, and carry out the
// actions it returns (reject or allow waiting pods, activate pods, record
// Events). All of it is rebuilt from informers, so a restart loses nothing
// that the API does not hold.
package podgroup
