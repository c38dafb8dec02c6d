package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/status"
	"github.com/gangsched/gangsched/test/cluster"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// `kubectl gang describe` against the binary at work: a Spark app admitted
// with one executor still to come shows its members, the room reserved for
// that executor on its node, when it was admitted and its GangAdmitted
// Event, found by its app id or by its driver's name, as text and as JSON;
// a PodGroup that does not fit shows why it waits; a name that is no group
// is an error naming it.
func TestKubectlGangDescribe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := cluster.Start(t)
	if err := c.InstallGangschedCRDs(ctx); err != nil {
		t.Fatal(err)
	}
	startBinary(t, c)
	ns := scenario(ctx, t, c, "describe", 1) // one node of 4 cpu

	driver := w.MakeSparkDriver(ns, "pi").Req("cpu", "1").Executors(2, "cpu=1").Obj()
	driver.UID = ""
	driver, err := c.Client.CoreV1().Pods(ns).Create(ctx, driver, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the driver bound with its reservation recorded", func() bool {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, driver.Name, metav1.GetOptions{})
		return err == nil && p.Spec.NodeName != "" && p.Annotations[podgroup.AnnotationReservation] != ""
	})
	exec1 := w.MakeSparkExecutor(ns, "pi", 1, driver).Req("cpu", "1").Obj()
	exec1.UID = ""
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, exec1, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// 1 cpu is left beside the app's 3: a group of two 1-cpu pods waits.
	if _, err := c.PodGroups.SchedulingV1alpha1().PodGroups(ns).Create(ctx, w.MakePodGroup(ns, "pair").MinMember(2).Obj(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		p := w.MakePod(ns, fmt.Sprintf("pair-%d", i)).Group("pair").Req("cpu", "1").Obj()
		p.UID = ""
		if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	describe := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, plugin, append([]string{"describe"}, append(args, "-n", ns, "--kubeconfig", c.KubeconfigPath)...)...).CombinedOutput()
		return string(out), err
	}
	var d status.Description
	var out string
	waitFor(ctx, t, "the app described with its executor bound and its Event", func() bool {
		if out, err = describe("spark-pi", "-o", "json"); err != nil {
			t.Fatalf("kubectl gang describe -o json: %v\n%s", err, out)
		}
		d = status.Description{}
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatalf("decoding %s: %v", out, err)
		}
		return len(d.Members) == 2 && d.Members[1].Node != "" && hasEvent(d, podgroup.ReasonAdmitted)
	})
	if d.Group != ns+"/spark-pi" || d.Kind != podgroup.KindSparkApp || d.MinMember != 1 || d.Executors != 2 || d.Admitted == nil || d.ReservedUntil == nil {
		t.Errorf("described %s (%s), minMember %d, executors %d, admitted %v, reserved until %v; want %s/spark-pi (SparkApp), 1 and 2, admitted and reserved",
			d.Group, d.Kind, d.MinMember, d.Executors, d.Admitted, d.ReservedUntil, ns)
	}
	if len(d.Reservation) != 1 || d.Reservation[0].Node != "n-0" || d.Reservation[0].Reserved.Cpu().String() != "2" || d.Reservation[0].Bound != 2 {
		t.Errorf("reservation = %+v, want cpu 2 (two executors) on n-0, where the driver and executor 1 are bound", d.Reservation)
	}
	if d.Members[0].Name != driver.Name || d.Members[0].Role != "driver" || d.Members[1].Name != exec1.Name {
		t.Errorf("members = %+v, want the driver then executor 1", d.Members)
	}

	// The same group by its driver's name, as text.
	out, err = describe(driver.Name)
	if err != nil {
		t.Fatalf("kubectl gang describe %s: %v\n%s", driver.Name, err, out)
	}
	for _, want := range []string{"Group:", ns + "/spark-pi (SparkApp)", "Minimum:", "1 driver + 2 executors, cpu 3", "Reserved at admission, by node:", "n-0", "cpu 2",
		"Members:", "pi-exec-1", "Events:", podgroup.ReasonAdmitted} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl gang describe %s lacks %q:\n%s", driver.Name, want, out)
		}
	}

	// The group that does not fit says why.
	waitFor(ctx, t, "the pair described as waiting with a reason", func() bool {
		out, err = describe("pair")
		return err == nil && strings.Contains(out, "Admitted:") && strings.Contains(out, "not yet") &&
			strings.Contains(out, "Waiting:") && !strings.Contains(out, "not tried yet")
	})
	t.Logf("kubectl gang describe pair:\n%s", out)

	if out, err = describe("nothing"); err == nil || !strings.Contains(out, "no group "+ns+"/nothing") {
		t.Errorf("kubectl gang describe nothing: err %v, output %q; want an error naming the group", err, out)
	}
}

func hasEvent(d status.Description, reason string) bool {
	for _, e := range d.Events {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

// waitFor polls cond every 200ms for up to a minute.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
