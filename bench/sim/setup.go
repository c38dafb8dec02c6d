package sim

import (
	"context"
	"fmt"

	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	queueclient "github.com/gangsched/gangsched/client/clientset/versioned"
)

// Setup creates what the workload's pods refer to: the PriorityClasses,
// and its Queues (queues may be nil when the Queue CRD is not installed).
func Setup(ctx context.Context, client kubernetes.Interface, queues queueclient.Interface, wl Workload) error {
	for name, value := range Priorities {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating PriorityClass %s: %w", name, err)
		}
	}
	if queues == nil {
		return nil
	}
	for _, q := range wl.Queues {
		obj := &v1alpha1.Queue{ObjectMeta: metav1.ObjectMeta{Name: q.Name}, Spec: v1alpha1.QueueSpec{Weight: &q.Weight}}
		if _, err := queues.SchedulingV1alpha1().Queues().Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Queue %s: %w", q.Name, err)
		}
	}
	return nil
}
