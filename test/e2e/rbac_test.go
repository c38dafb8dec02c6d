package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	schedulingv1beta1 "k8s.io/api/scheduling/v1beta1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/rest"
	rbacregistryvalidation "k8s.io/kubernetes/pkg/registry/rbac/validation"
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac"
	"k8s.io/utils/ptr"

	queueclientset "github.com/gangsched/gangsched/client/clientset/versioned"
	"github.com/gangsched/gangsched/podgroup"
	"github.com/gangsched/gangsched/test/cluster"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// The identity and role manifests/rbac.yaml gives the scheduler.
const (
	schedulerNamespace = "gangsched-system"
	schedulerAccount   = "gang-scheduler"
	schedulerUser      = "system:serviceaccount:" + schedulerNamespace + ":" + schedulerAccount
	gangRole           = "gangsched:gang-scheduler"
)

// auditPolicy records, at Metadata level, every request of the scheduler's
// ServiceAccount and nothing else.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    users: ["` + schedulerUser + `"]
  - level: None
`

// TestRBACGrantsWhatTheCodeUses runs the binary as deployed, as the
// ServiceAccount of manifests/ with only its RBAC (API server in RBAC mode),
// through a scenario that reaches every API call the scheduler makes: leader
// election, the default Queue, admission and binding, PodGroup and Queue
// status, reservation deadlines on a PodGroup and on a Spark driver, the
// waiting reason on a held pod, Events, and a gang preemption. The API
// server's audit log then shows that (1) no request of the scheduler was
// forbidden and (2) every verb the ClusterRole gangsched:gang-scheduler
// grants was needed by some request, that is, allowed by nothing else the
// ServiceAccount is bound to (system:kube-scheduler,
// system:volume-scheduler, ...). A request that an informer's watch-list
// stands for, list, counts as made.
//
// CAVEAT: what only the built-in roles serve and the scenario does not
// reach (volume binding, DRA, default preemption of pods in no group,
// delegated authentication on the secure port) is not checked for 403s.
func TestRBACGrantsWhatTheCodeUses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	policyPath, auditPath := filepath.Join(dir, "audit-policy.yaml"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policyPath, []byte(auditPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	c := cluster.StartWithOptions(t, cluster.Options{Flags: []string{
		"--authorization-mode=RBAC",
		"--audit-policy-file=" + policyPath,
		"--audit-log-path=" + auditPath,
		// Kubernetes' own gang API, which the scheduler watches and writes.
		"--feature-gates=GenericWorkload=true", "--runtime-config=scheduling.k8s.io/v1beta1=true",
		cluster.NoPeerProxyFlag,
	}})
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyKustomization(ctx, filepath.Join(root, "manifests")); err != nil {
		t.Fatal(err)
	}
	startBinaryAs(t, serviceAccountKubeconfig(ctx, t, c))

	// 1. Leader election, then activation.
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		lease, err := c.Client.CoordinationV1().Leases("kube-system").Get(ctx, "gang-scheduler", metav1.GetOptions{})
		return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "", nil
	}); err != nil {
		t.Fatalf("no leader Lease kube-system/gang-scheduler: %v", err)
	}

	// The scheduler drops the Activate actions and Events of the Gang
	// plugin until it calls itself active, a little after it starts
	// scheduling (plugin.go activate); what it does first then, creating
	// the default Queue, is the sign to start.
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return slices.ContainsFunc(readAudit(t, auditPath), func(ev auditv1.Event) bool {
			return ev.Verb == "create" && ev.ObjectRef != nil && ev.ObjectRef.Resource == "queues"
		}), nil
	}); err != nil {
		t.Fatalf("the scheduler did not become active: %v", err)
	}

	// 2. The scenario, on 12 CPU. Waits only report, so that a forbidden
	// request also shows in the audit check below.
	ns := scenario(ctx, t, c, "rbac", 3)
	go playKubelet(ctx, c, ns)
	waitFor := func(timeout time.Duration, what string, cond func(context.Context) bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			return cond(ctx), nil
		}); err != nil {
			t.Errorf("waiting for %s: %v", what, err)
		}
	}
	createPod := func(p *v1.Pod, class string) {
		t.Helper()
		p.UID, p.Spec.PriorityClassName = "", class
		if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	group := func(pg *w.PodGroupWrapper, members int, cpu, class string) {
		t.Helper()
		if _, err := c.PodGroups.SchedulingV1alpha1().PodGroups(ns).Create(ctx, pg.Obj(), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := range members {
			createPod(w.MakePod(ns, fmt.Sprintf("%s-%d", pg.Name, i)).Group(pg.Name).Req("cpu", cpu).Obj(), class)
		}
	}
	pod := func(name string) *v1.Pod {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return &v1.Pod{}
		}
		return p
	}
	bound := func(names ...string) func(context.Context) bool {
		return func(context.Context) bool {
			return !slices.ContainsFunc(names, func(n string) bool { return pod(n).Spec.NodeName == "" })
		}
	}

	// A PodGroup whose minResources (3 CPU) hold room for members to come:
	// admission, binding, its status, and its reservation deadline.
	group(w.MakePodGroup(ns, "reserve").MinResources("cpu", "3"), 1, "1", "high")
	// A Spark driver with two executors to come (3 CPU): the deadline goes
	// on the driver.
	createPod(w.MakeSparkDriver(ns, "pi").Req("cpu", "1").Executors(2, "cpu=1").Obj(), "high")
	// A group short of members: its pod is held, told why, with an Event.
	group(w.MakePodGroup(ns, "waiting").MinMember(2), 1, "1", "high")
	// A Job-shaped group of Kubernetes' own gang API takes the third
	// node: its PodGroup is watched, patched (quorum) and given conditions.
	job := &schedulingv1beta1.PodGroup{ObjectMeta: metav1.ObjectMeta{Name: "job"}, Spec: schedulingv1beta1.PodGroupSpec{
		SchedulingPolicy: schedulingv1beta1.PodGroupSchedulingPolicy{Gang: &schedulingv1beta1.GangSchedulingPolicy{MinCount: 1}}}}
	if _, err := c.Client.SchedulingV1beta1().PodGroups(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	jobPod := w.MakePod(ns, "job-0").Req("cpu", "4").Obj()
	jobPod.Spec.SchedulingGroup = &v1.PodSchedulingGroup{PodGroupName: ptr.To("job")}
	createPod(jobPod, "high")
	waitFor(30*time.Second, "reserve-0, pi-driver and job-0 bound", bound("reserve-0", "pi-driver", "job-0"))

	// A low-priority group takes the 2 CPU left; a high-priority one then
	// preempts it whole.
	group(w.MakePodGroup(ns, "low").MinMember(2), 2, "1", "low")
	waitFor(30*time.Second, "the low group bound", bound("low-0", "low-1"))
	group(w.MakePodGroup(ns, "high").MinMember(2), 2, "1", "high")
	waitFor(30*time.Second, "the high group to preempt the low one", bound("high-0", "high-1"))

	// What the scheduler writes besides bindings, within one deadline: a
	// forbidden write shows here, and in the audit below.
	deadline := time.Now().Add(20 * time.Second)
	effect := func(what string, cond func(context.Context) bool) {
		t.Helper()
		waitFor(max(time.Until(deadline), time.Second), what, cond)
	}
	effect("the reservation deadline and status on PodGroup reserve", func(ctx context.Context) bool {
		pg, err := c.PodGroups.SchedulingV1alpha1().PodGroups(ns).Get(ctx, "reserve", metav1.GetOptions{})
		return err == nil && pg.Annotations[podgroup.AnnotationReservedUntil] != "" && pg.Status.Phase != ""
	})
	effect("the quorum record and condition on PodGroup job", func(ctx context.Context) bool {
		pg, err := c.Client.SchedulingV1beta1().PodGroups(ns).Get(ctx, "job", metav1.GetOptions{})
		return err == nil && pg.Annotations[podgroup.AnnotationQuorum] != "" &&
			meta.IsStatusConditionTrue(pg.Status.Conditions, schedulingv1beta1.PodGroupInitiallyScheduled)
	})
	effect("the reservation deadline on pi-driver", func(context.Context) bool {
		return pod("pi-driver").Annotations[podgroup.AnnotationReservedUntil] != ""
	})
	effect("the waiting reason on waiting-0", func(context.Context) bool {
		for _, cond := range pod("waiting-0").Status.Conditions {
			if cond.Type == v1.PodScheduled && cond.Status == v1.ConditionFalse && strings.Contains(cond.Message, "before all 2 exist") {
				return true
			}
		}
		return false
	})
	queues, err := queueclientset.NewForConfig(cluster.JSONConfig(c.Config))
	if err != nil {
		t.Fatal(err)
	}
	effect("the default Queue's status", func(ctx context.Context) bool {
		q, err := queues.SchedulingV1alpha1().Queues().Get(ctx, "default", metav1.GetOptions{})
		return err == nil && q.Status.AdmittedGroups > 0
	})

	// 3. The audit. Requests come in the background (Lease renewals, Queue
	// status), so wait a little for the last grants to be used.
	var forbidden, unused, requests []string
	_ = wait.PollUntilContextTimeout(ctx, time.Second, 15*time.Second, true, func(context.Context) (bool, error) {
		forbidden, unused, requests = auditRBAC(ctx, t, c, auditPath)
		return len(unused) == 0, nil
	})
	for _, f := range forbidden {
		t.Errorf("forbidden: %s", f)
	}
	for _, u := range unused {
		t.Errorf("ClusterRole %s grants %s, which no request of the scheduler needed", gangRole, u)
	}
	if t.Failed() {
		t.Logf("requests of %s (* needed %s):\n%s", schedulerUser, gangRole, strings.Join(requests, "\n"))
	}
}

// serviceAccountKubeconfig writes a kubeconfig that authenticates as the
// scheduler's ServiceAccount, with a token from the TokenRequest API.
func serviceAccountKubeconfig(ctx context.Context, t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	tr, err := c.Client.CoreV1().ServiceAccounts(schedulerNamespace).CreateToken(ctx, schedulerAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("requesting a token for %s: %v", schedulerUser, err)
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.BearerToken = tr.Status.Token
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := cluster.WriteKubeconfig(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

// scenario creates a namespace named after prefix, nodes of 4 CPU and
// 16Gi, and the PriorityClasses low (1) and high (100); it returns the
// namespace.
func scenario(ctx context.Context, t *testing.T, c *cluster.Cluster, prefix string, nodes int) string {
	t.Helper()
	ns, err := c.CreateNamespace(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateNodes(ctx, "n", nodes, v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("16Gi")}, nil); err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]int32{"low": 1, "high": 100} {
		if _, err := c.Client.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// playKubelet removes terminating pods of ns, as a kubelet would once their
// containers stopped, until ctx ends.
func playKubelet(ctx context.Context, c *cluster.Cluster, ns string) {
	_ = wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, p := range pods.Items {
				if p.DeletionTimestamp != nil {
					_ = c.Client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
				}
			}
		}
		return false, nil
	})
}

// grant is one verb on one resource (and, if the rule names them, only on
// those objects) that a rule allows.
type grant struct {
	group, resource, verb string
	names                 []string
}

func (g grant) rule() rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{g.group}, Resources: []string{g.resource}, Verbs: []string{g.verb}, ResourceNames: g.names}
}

func (g grant) String() string {
	s := fmt.Sprintf("%s %s", g.verb, g.resource)
	if g.group != "" {
		s += "." + g.group
	}
	if len(g.names) > 0 {
		s += fmt.Sprintf(" %v", g.names)
	}
	return s
}

// grants splits rules into grants.
func grants(rules []rbacv1.PolicyRule) []grant {
	var out []grant
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, grant{g, res, v, r.ResourceNames})
				}
			}
		}
	}
	return out
}

// auditRBAC reads the audit log and returns the scheduler's forbidden
// requests, and the grants of gangRole that no request needed: every
// request is checked against the RBAC objects on the server without the
// binding of gangRole, and a request those deny needed the grants of
// gangRole that allow it. requests lists the distinct requests, those that
// needed gangRole marked with a star.
func auditRBAC(ctx context.Context, t *testing.T, c *cluster.Cluster, auditPath string) (forbidden, unused, requests []string) {
	t.Helper()
	crs, err := c.Client.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crbs, err := c.Client.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	roles, err := c.Client.RbacV1().Roles("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rbs, err := c.Client.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		gang      []grant
		bindings  []*rbacv1.ClusterRoleBinding
		bound     bool
		others    []*rbacv1.ClusterRole
		nsRoles   []*rbacv1.Role
		nsBinding []*rbacv1.RoleBinding
	)
	for i := range crs.Items {
		cr := &crs.Items[i]
		others = append(others, cr)
		if cr.Name == gangRole {
			gang = grants(cr.Rules)
		}
	}
	for i := range crbs.Items {
		b := &crbs.Items[i]
		if b.RoleRef.Kind == "ClusterRole" && b.RoleRef.Name == gangRole {
			bound = bound || slices.Contains(b.Subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: schedulerAccount, Namespace: schedulerNamespace})
			continue
		}
		bindings = append(bindings, b)
	}
	for i := range roles.Items {
		nsRoles = append(nsRoles, &roles.Items[i])
	}
	for i := range rbs.Items {
		nsBinding = append(nsBinding, &rbs.Items[i])
	}
	if len(gang) == 0 || !bound {
		t.Fatalf("ClusterRole %s is missing or not bound to %s", gangRole, schedulerUser)
	}
	_, static := rbacregistryvalidation.NewTestRuleResolver(nsRoles, nsBinding, others, bindings)
	withoutGang := rbac.New(static, static, static, static)

	events := readAudit(t, auditPath)
	used := make([]bool, len(gang))
	seen := map[string]bool{}
	for _, ev := range events {
		attrs := attributesOf(&ev)
		if ev.ResponseStatus != nil && ev.ResponseStatus.Code == 403 {
			forbidden = append(forbidden, describe(attrs))
		}
		key := describe(attrs)
		if seen[key] {
			continue
		}
		seen[key] = true
		if d, _, _ := withoutGang.Authorize(ctx, attrs); d == authorizer.DecisionAllow {
			requests = append(requests, "  "+key)
			continue
		}
		requests = append(requests, "* "+key)
		asked := []authorizer.AttributesRecord{attrs}
		if attrs.Verb == "watch" && strings.Contains(ev.RequestURI, "sendInitialEvents=true") {
			// A watch-list, which is what an informer's reflector sends
			// first; it lists instead where the API server does not serve
			// watch-lists, so the code needs list too.
			list := attrs
			list.Verb = "list"
			asked = append(asked, list)
		}
		for i, g := range gang {
			for _, a := range asked {
				if rbac.RuleAllows(a, ptr.To(g.rule())) {
					used[i] = true
				}
			}
		}
	}
	if len(seen) == 0 {
		t.Fatalf("the audit log has no request of %s", schedulerUser)
	}
	slices.Sort(forbidden)
	forbidden = slices.Compact(forbidden)
	for i, g := range gang {
		if !used[i] {
			unused = append(unused, g.String())
		}
	}
	slices.Sort(requests)
	return forbidden, unused, requests
}

// readAudit returns the scheduler's requests in the audit log, leaving out
// a last line still being written.
func readAudit(t *testing.T, path string) []auditv1.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the audit log: %v", err)
	}
	var events []auditv1.Event
	for len(data) > 0 {
		line, rest, complete := bytes.Cut(data, []byte("\n"))
		if !complete {
			break
		}
		data = rest
		var ev auditv1.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("reading the audit log: %v", err)
		}
		if ev.User.Username == schedulerUser {
			events = append(events, ev)
		}
	}
	return events
}

// attributesOf rebuilds, from an audit event, what the request asked the
// authorizer.
func attributesOf(ev *auditv1.Event) authorizer.AttributesRecord {
	extra := map[string][]string{}
	for k, v := range ev.User.Extra {
		extra[k] = []string(v)
	}
	a := authorizer.AttributesRecord{
		User: &user.DefaultInfo{Name: ev.User.Username, UID: ev.User.UID, Groups: ev.User.Groups, Extra: extra},
		Verb: ev.Verb,
	}
	if u, err := url.ParseRequestURI(ev.RequestURI); err == nil {
		a.Path = u.Path
	}
	if r := ev.ObjectRef; r != nil {
		a.ResourceRequest = true
		a.Namespace, a.APIGroup, a.APIVersion = r.Namespace, r.APIGroup, r.APIVersion
		a.Resource, a.Subresource, a.Name = r.Resource, r.Subresource, r.Name
	}
	return a
}

// describe names a request: verb, resource and object, or verb and path.
func describe(a authorizer.AttributesRecord) string {
	if !a.ResourceRequest {
		return a.Verb + " " + a.Path
	}
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	if a.APIGroup != "" {
		res += "." + a.APIGroup
	}
	obj := a.Name
	if a.Namespace != "" {
		obj = a.Namespace + "/" + obj
	}
	return strings.TrimSpace(a.Verb + " " + res + " " + obj)
}
