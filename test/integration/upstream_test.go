package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	schedv1beta1 "k8s.io/api/scheduling/v1beta1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/gangsched/gangsched/manifests"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/test/cluster"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// workloadAPIFlags serve Kubernetes' own gang API on the test API server
// (and turn off its peer proxy, as tests that run scheduler binaries do:
// cluster.NoPeerProxyFlag).
var workloadAPIFlags = []string{"--feature-gates=GenericWorkload=true", "--runtime-config=scheduling.k8s.io/v1beta1=true", cluster.NoPeerProxyFlag}

// newWorkloadEnv starts an API server serving scheduling.k8s.io/v1beta1
// and gang-scheduler as its own process, with GenericWorkload off in it as
// shipped (the gate the test API server sets is this process's).
func newWorkloadEnv(t *testing.T) *env {
	t.Helper()
	e := newEnvWithOptions(t, nil, cluster.Options{Flags: workloadAPIFlags})
	startBinaryScheduler(t, e.c, schedulerBinary(t), "gang")
	e.waitLeader("")
	return e
}

// jobMember is a pod as the Job controller creates it for a Workload: it
// joins its PodGroup with spec.schedulingGroup.
func jobMember(name, group, cpu string) *v1.Pod {
	p := w.MakePod("", name).Req("cpu", cpu).Obj()
	p.Spec.SchedulingGroup = &v1.PodSchedulingGroup{PodGroupName: ptr.To(group)}
	return p
}

// waitInitiallyScheduled waits until the PodGroup's PodGroupInitiallyScheduled
// condition has status and reason, with want in its message.
func (e *env) waitInitiallyScheduled(name string, status metav1.ConditionStatus, reason, want string) {
	e.t.Helper()
	var last *metav1.Condition
	if err := wait.PollUntilContextTimeout(e.ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		pg, err := e.c.Client.SchedulingV1beta1().PodGroups(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = meta.FindStatusCondition(pg.Status.Conditions, schedv1beta1.PodGroupInitiallyScheduled)
		return last != nil && last.Status == status && last.Reason == reason && strings.Contains(last.Message, want), nil
	}); err != nil {
		e.t.Fatalf("PodGroup %s: condition %+v, want %s %s with %q", name, last, status, reason, want)
	}
}

// A Job-shaped group of Kubernetes' own gang API (a scheduling.k8s.io
// PodGroup of minCount 3, pods joining it with spec.schedulingGroup) waits
// whole while only two of its pods fit, its condition saying why, and is
// admitted whole when a node comes, its condition saying so.
func TestSchedulingPodGroupAdmittedWhole(t *testing.T) {
	e := newWorkloadEnv(t)
	e.nodes("n", 2, "3")
	pg := &schedv1beta1.PodGroup{
		ObjectMeta: metav1.ObjectMeta{Name: "job"},
		Spec: schedv1beta1.PodGroupSpec{SchedulingPolicy: schedv1beta1.PodGroupSchedulingPolicy{
			Gang: &schedv1beta1.GangSchedulingPolicy{MinCount: 3}}},
	}
	if _, err := e.c.Client.SchedulingV1beta1().PodGroups(e.ns).Create(e.ctx, pg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []*v1.Pod
	for i := 0; i < 3; i++ {
		pods = append(pods, jobMember(fmt.Sprintf("job-%d", i), "job", "2"))
	}
	e.create(pods...)
	e.waitInitiallyScheduled("job", metav1.ConditionFalse, schedv1beta1.PodGroupReasonUnschedulable, "1 of 3 pods fit on no node at once")
	e.stayUnbound(2*time.Second, names(pods...)...)

	e.nodes("more", 1, "3")
	e.waitBound(30*time.Second, names(pods...)...)
	e.waitInitiallyScheduled("job", metav1.ConditionTrue, podgroup.ReasonScheduled, "admitted whole: 3 members placed")
	e.waitEvent("PodGroup", "job", podgroup.ReasonAdmitted, "3 pods planned on 3 nodes")
}

// gang-scheduler does not run beside kube-scheduler's own gang scheduling:
// with GenericWorkload on in it, it stops at start, saying how to run it.
func TestNoSecondGangWithGenericWorkload(t *testing.T) {
	c := cluster.StartWithOptions(t, cluster.Options{Flags: workloadAPIFlags})
	cfg, err := manifests.SchedulerConfig(manifests.RenderOptions{Kubeconfig: c.KubeconfigPath})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, schedulerBinary(t), "--config="+path, "--secure-port=0",
		"--feature-gates=GenericWorkload=true").CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("gang-scheduler ran with GenericWorkload on (err %v)", err)
	}
	if want := "admits scheduling.k8s.io PodGroups itself: run this scheduler with --feature-gates=GenericWorkload=false"; !strings.Contains(string(out), want) {
		t.Errorf("output does not say %q:\n%s", want, cluster.Tail(string(out), 20))
	}
}
