package integration

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/restmapper"
	"k8s.io/klog/v2/ktesting"
	"k8s.io/kubernetes/cmd/kube-scheduler/app/options"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	schedv1alpha1 "sigs.k8s.io/scheduler-plugins/apis/scheduling/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/gangsched/gangsched/apis/config"
	"github.com/gangsched/gangsched/apis/scheduling/v1alpha1"
	"github.com/gangsched/gangsched/manifests"
	"github.com/gangsched/gangsched/test/cluster"
)

// renderManifests runs kustomize over manifests/, as kubectl apply -k does.
func renderManifests(t *testing.T) []byte {
	t.Helper()
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "manifests"))
	if err != nil {
		t.Fatalf("kustomize build manifests/: %v", err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// manifestScheme knows every kind manifests/ may hold.
func manifestScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme, schedv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// decodeManifests splits a rendering into its objects, each decoded
// strictly with manifestScheme (typed) and as unstructured (to apply).
func decodeManifests(t *testing.T, rendered []byte) ([]*unstructured.Unstructured, []runtime.Object) {
	t.Helper()
	decoder := serializer.NewCodecFactory(manifestScheme(t), serializer.EnableStrict).UniversalDeserializer()
	var objs []*unstructured.Unstructured
	var typed []runtime.Object
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(rendered)))
	for {
		doc, err := reader.Read()
		if err != nil {
			break
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatal(err)
		}
		if len(u.Object) == 0 { // comments only
			continue
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("decoding a manifest: %v\n%s", err, doc)
		}
		t.Logf("%s %s/%s", gvk.Kind, u.GetNamespace(), u.GetName())
		objs, typed = append(objs, u), append(typed, obj)
	}
	return objs, typed
}

// objectClient returns a client for the resource of objects like u.
func objectClient(t *testing.T, mapper meta.RESTMapper, cl *cluster.Cluster, u *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	m, err := mapper.RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version)
	if err != nil {
		t.Fatalf("%s: %v", u.GetKind(), err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return cl.Dynamic.Resource(m.Resource).Namespace(u.GetNamespace())
	}
	return cl.Dynamic.Resource(m.Resource)
}

// applyObjects creates every object but the CustomResourceDefinitions
// (installed first by the caller) on the API server of cl.
func applyObjects(ctx context.Context, t *testing.T, cl *cluster.Cluster, objs []*unstructured.Unstructured) {
	t.Helper()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cl.Client.Discovery()))
	for _, u := range objs {
		if u.GetKind() == "CustomResourceDefinition" {
			continue
		}
		if _, err := objectClient(t, mapper, cl, u).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Errorf("applying %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

// manifests/ renders with kustomize, every object decodes with the
// Kubernetes scheme, all of it applies to a real API server, and the
// Deployment runs the binary with the configuration in its ConfigMap, which
// kube-scheduler's loader accepts with typed Gang arguments.
func TestManifestsApply(t *testing.T) {
	ctx := context.Background()
	rendered := renderManifests(t)
	objs, typed := decodeManifests(t, rendered)
	var deploy *appsv1.Deployment
	configMaps := map[string]*v1.ConfigMap{}
	for i, obj := range typed {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			deploy = o
		case *v1.ConfigMap:
			configMaps[o.Name] = o
		}
		u := objs[i]
		if u.GetKind() == "RoleBinding" && u.GetName() == "gangsched:extension-apiserver-authentication-reader" && u.GetNamespace() != "kube-system" {
			t.Errorf("the authentication reader binding must be in kube-system, is in %q", u.GetNamespace())
		}
	}
	if deploy == nil {
		t.Fatal("no Deployment in manifests/")
	}

	// The Deployment runs the binary with --config from its ConfigMap, and
	// that configuration is the shipped one, accepted by kube-scheduler.
	c := deploy.Spec.Template.Spec.Containers[0]
	configArg := ""
	for _, a := range c.Command {
		if strings.HasPrefix(a, "--config=") {
			configArg = strings.TrimPrefix(a, "--config=")
		}
	}
	var cm *v1.ConfigMap
	for _, vol := range deploy.Spec.Template.Spec.Volumes {
		for _, m := range c.VolumeMounts {
			if m.Name == vol.Name && vol.ConfigMap != nil && strings.HasPrefix(configArg, m.MountPath+"/") {
				cm = configMaps[vol.ConfigMap.Name]
				data := cm.Data[strings.TrimPrefix(configArg, m.MountPath+"/")]
				if data != string(manifests.SchedulerConfigYAML) {
					t.Errorf("the ConfigMap's configuration is not manifests/scheduler-config.yaml")
				}
				path := filepath.Join(t.TempDir(), "config.yaml")
				if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
				logger, _ := ktesting.NewTestContext(t)
				cfg, err := options.LoadConfigFromFile(logger, path)
				if err != nil {
					t.Fatalf("kube-scheduler rejects the deployed configuration: %v", err)
				}
				if _, ok := cfg.Profiles[0].PluginConfig[0].Args.(*config.GangArgs); !ok || !cfg.LeaderElection.LeaderElect {
					t.Errorf("deployed configuration: Gang args %T, leader election %v", cfg.Profiles[0].PluginConfig[0].Args, cfg.LeaderElection.LeaderElect)
				}
			}
		}
	}
	if cm == nil {
		t.Fatalf("--config=%s is not in a mounted ConfigMap", configArg)
	}
	sc := c.SecurityContext
	if ps := deploy.Spec.Template.Spec.SecurityContext; ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the scheduler must run as non-root with a read-only root filesystem")
	}

	// All of it applies to a real API server: CRDs first, then the rest.
	cl := cluster.Start(t)
	root, _ := cluster.RepoRoot()
	if err := cl.InstallCRDs(ctx, filepath.Join(root, "manifests", "crds", "scheduling.x-k8s.io_podgroups.yaml"),
		filepath.Join(root, "manifests", "crds", "scheduling.gangsched.io_queues.yaml")); err != nil {
		t.Fatal(err)
	}
	applyObjects(ctx, t, cl, objs)

	// The PodGroup CRD shipped is scheduler-plugins' own, unchanged.
	crd, err := cluster.PodGroupCRDPath()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(crd)
	got, _ := os.ReadFile(filepath.Join(root, "manifests", "crds", "scheduling.x-k8s.io_podgroups.yaml"))
	if !bytes.Equal(want, got) {
		t.Errorf("manifests/crds/scheduling.x-k8s.io_podgroups.yaml differs from scheduler-plugins' %s: run make generate", crd)
	}
}
