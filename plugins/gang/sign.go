package gang

import (
	"context"

	v1 "k8s.io/api/core/v1"
	fwk "k8s.io/kube-scheduler/framework"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/resources"
)

// Signature fragments of the plugin (KEP-5598's SignPlugin).
const (
	// groupSignerName signs the pod's group: the room Filter keeps it off
	// (other groups') and the room Score draws it to (its own).
	groupSignerName = "gangsched.io/PodGroupKey()"
	// requestsSignerName signs what Filter compares with reserved room.
	requestsSignerName = "gangsched.io/PodRequests()"
)

// SignPod signs the pod for kube-scheduler's opportunistic batching:
// consecutive pods of equal signatures reuse the nodes the one before
// filtered and scored, after Filter passes again on the node reused. A
// plugin of the profile that cannot sign turns batching off for every pod
// of the profile, so the plugin signs every pod: Filter and Score read of
// it only its group and its requests. A member's group's room changes
// between two members' cycles on the node the first took, which
// kube-scheduler scores again.
func (pl *Gang) SignPod(_ context.Context, pod *v1.Pod) ([]fwk.SignFragment, *fwk.Status) {
	key, _ := podgroup.KeyOf(pod)
	return []fwk.SignFragment{
		{Key: groupSignerName, Value: []string{string(key.Kind), key.Namespace, key.Name}},
		{Key: requestsSignerName, Value: resources.PodRequests(pod)},
	}, nil
}
