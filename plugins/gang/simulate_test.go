package gang

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/apis/config/testing/defaults"
	"k8s.io/kubernetes/pkg/scheduler/backend/cache"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/names"
	frameworkruntime "k8s.io/kubernetes/pkg/scheduler/framework/runtime"
	schedmetrics "k8s.io/kubernetes/pkg/scheduler/metrics"

	"github.com/gangsched/gangsched/podgroup"
	w "github.com/gangsched/gangsched/test/wrappers"
)

// filtersFramework builds kube-scheduler's default profile (its PreFilter
// and Filter plugins, but DynamicResources, which needs a DRA manager) on a
// snapshot of the nodes and pods, and returns it as a handle with the
// snapshot's NodeInfos.
func filtersFramework(tb testing.TB, nodes []*v1.Node, pods []*v1.Pod) (fwk.Handle, []fwk.NodeInfo) {
	tb.Helper()
	ctx := context.Background()
	schedmetrics.Register()
	keep := func(set config.PluginSet) config.PluginSet {
		return config.PluginSet{Enabled: slices.DeleteFunc(slices.Clone(set.Enabled), func(p config.Plugin) bool { return p.Name == names.DynamicResources })}
	}
	profile := &config.KubeSchedulerProfile{
		SchedulerName: w.SchedulerName,
		Plugins: &config.Plugins{
			QueueSort: defaults.ExpandedPluginsV1.QueueSort,
			PreFilter: keep(defaults.ExpandedPluginsV1.PreFilter),
			Filter:    keep(defaults.ExpandedPluginsV1.Filter),
			Bind:      defaults.ExpandedPluginsV1.Bind,
		},
		PluginConfig: defaults.PluginConfigsV1,
	}
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	snapshot := cache.NewSnapshot(pods, nodes)
	fw, err := frameworkruntime.NewFramework(ctx, plugins.NewInTreeRegistry(), profile,
		frameworkruntime.WithSnapshotSharedLister(snapshot),
		frameworkruntime.WithInformerFactory(factory),
		frameworkruntime.WithClientSet(client),
		frameworkruntime.WithEventRecorder(&events.FakeRecorder{}),
		frameworkruntime.WithPodActivator(noActivator{}),
		frameworkruntime.WithWaitingPods(frameworkruntime.NewWaitingPodsMap()))
	if err != nil {
		tb.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	infos, err := snapshot.NodeInfos().List()
	if err != nil {
		tb.Fatal(err)
	}
	return fw, infos
}

// noActivator drops the pods a plugin activates: no scheduling queue runs
// in these tests.
type noActivator struct{}

func (noActivator) Activate(klog.Logger, map[string]*v1.Pod) {}

// zonedNodes lists n nodes of 32 CPU in 4 zones.
func zonedNodes(n int) []*v1.Node {
	nodes := make([]*v1.Node, n)
	for i := range nodes {
		nodes[i] = w.MakeNode(fmt.Sprintf("node-%05d", i), "cpu", "32", "memory", "128Gi").
			Label(v1.LabelTopologyZone, fmt.Sprintf("zone-%d", i%4)).Obj()
	}
	return nodes
}

// A plan made with the profile's real filters places members that the
// fast pass alone would stack: executors with required anti-affinity to
// each other go on nodes of their own, and a group that cannot be spread
// so waits with the filters' reason.
func TestPlanWithRealFilters(t *testing.T) {
	logger, ctx := ktesting.NewTestContext(t)
	fw, infos := filtersFramework(t, zonedNodes(3), nil)
	template := `{"metadata":{"labels":{"app":"spread"}},"spec":{"affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"spread"}},"topologyKey":"kubernetes.io/hostname"}]}}}}`
	for _, tc := range []struct {
		executors int
		wantNodes int
		wantMsg   string
	}{
		{executors: 3, wantNodes: 3},
		{executors: 4, wantMsg: "refused there by the scheduler's filters (node(s) didn't match pod anti-affinity rules)"},
	} {
		t.Run(fmt.Sprintf("executors=%d", tc.executors), func(t *testing.T) {
			m := podgroup.NewManager(podgroup.Config{PermitTimeout: time.Minute, ReservationTimeout: time.Minute}, nil)
			driver := w.MakeSparkDriver("ns", "spread").Req("cpu", "1").Executors(tc.executors, "cpu=1").
				Annotation(podgroup.AnnotationExecutorTemplate, template).Obj()
			m.UpsertPod(driver)
			adm := m.Admit(logger, driver, &snapshotNodes{ctx: ctx, handle: fw, infos: infos})
			if tc.wantMsg != "" {
				if adm.Admitted || !strings.Contains(adm.Message, tc.wantMsg) {
					t.Fatalf("Admit = %v %q, want refused with %q", adm.Admitted, adm.Message, tc.wantMsg)
				}
				return
			}
			if !adm.Admitted {
				t.Fatalf("Admit: %s", adm.Message)
			}
			key, _ := podgroup.KeyOf(driver)
			var on []string
			for _, ni := range infos {
				if name := ni.Node().Name; m.OwnOn(key, name, []v1.ResourceName{v1.ResourceCPU}, make([]int64, 1)) {
					on = append(on, name)
				}
			}
			if len(on) != tc.wantNodes {
				t.Errorf("room reserved on %d nodes, want %d (one executor a node): %v", len(on), tc.wantNodes, on)
			}
		})
	}
}

// BenchmarkPlanWithFilters admits a Spark app of a driver and 49 executors
// (50 members, 4 CPU each, spread over zones by a soft constraint) on 1,000
// and 5,000 nodes with pods on them, once with the resource pass alone,
// once with the profile's real filters checking every placement (what
// planning with the filters costs), and once with the filters while 20
// apps admitted before hold reserved room.
func BenchmarkPlanWithFilters(b *testing.B) {
	logger := klog.Background()
	ctx := context.Background()
	template := `{"spec":{"topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"ScheduleAnyway","labelSelector":{"matchLabels":{"spark-role":"executor"}}}]}}`
	for _, n := range []int{1000, 5000} {
		nodes := zonedNodes(n)
		var pods []*v1.Pod
		for i := range nodes {
			if i%2 == 0 {
				pods = append(pods, w.MakePod("busy", fmt.Sprintf("busy-%d", i)).Node(nodes[i].Name).Req("cpu", "20").Obj())
			}
		}
		fw, infos := filtersFramework(b, nodes, pods)
		for _, mode := range []string{"resources", "filters", "filters+held"} {
			var handle fwk.Handle
			if mode != "resources" {
				handle = fw
			}
			b.Run(fmt.Sprintf("nodes=%d/%s", n, mode), func(b *testing.B) {
				// As in the plugin: one Manager, and the nodes' view kept
				// across cycles while they do not change. Each app is
				// deleted once admitted, giving its room back.
				cache := &roomCache{}
				m := podgroup.NewManager(podgroup.Config{PermitTimeout: time.Minute, ReservationTimeout: time.Minute}, nil)
				if mode == "filters+held" {
					// 20 apps admitted before hold room on 1,000 nodes.
					for j := range 20 {
						held := w.MakeSparkDriver("ns", fmt.Sprintf("held-%d", j)).Req("cpu", "4").Executors(49, "cpu=4").Obj()
						m.UpsertPod(held)
						if adm := m.Admit(logger, held, &snapshotNodes{ctx: ctx, handle: handle, infos: infos, cache: cache}); !adm.Admitted {
							b.Fatal(adm.Message)
						}
					}
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					b.StopTimer()
					i++
					driver := w.MakeSparkDriver("ns", fmt.Sprintf("big-%d", i)).Req("cpu", "4").Executors(49, "cpu=4").
						Annotation(podgroup.AnnotationExecutorTemplate, template).Obj()
					m.UpsertPod(driver)
					b.StartTimer()
					if adm := m.Admit(logger, driver, &snapshotNodes{ctx: ctx, handle: handle, infos: infos, cache: cache}); !adm.Admitted {
						b.Fatal(adm.Message)
					}
					b.StopTimer()
					m.DeletePod(driver)
					b.StartTimer()
				}
			})
		}
	}
}
