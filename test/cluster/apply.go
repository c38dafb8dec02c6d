package cluster

import (
	"context"
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// ApplyKustomization renders the kustomization in dir, as
// `kubectl apply -k dir` does, and creates every object it holds: its
// CustomResourceDefinitions first, waited for as InstallCRDs does, then the
// other objects in the order kustomize emits them.
func (c *Cluster) ApplyKustomization(ctx context.Context, dir string) error {
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var (
		crds []*apiextensionsv1.CustomResourceDefinition
		objs []*unstructured.Unstructured
	)
	for _, r := range res.Resources() {
		m, err := r.Map()
		if err != nil {
			return fmt.Errorf("reading %s %s: %w", r.GetKind(), r.GetName(), err)
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GroupVersionKind() != apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition") {
			objs = append(objs, u)
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, crd); err != nil {
			return fmt.Errorf("decoding CRD %s: %w", u.GetName(), err)
		}
		crds = append(crds, crd)
	}
	if err := c.installCRDs(ctx, crds); err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))
	for _, u := range objs {
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("mapping %s: %w", gvk, err)
		}
		ri := c.Dynamic.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			_, err = ri.Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{})
		} else {
			_, err = ri.Create(ctx, u, metav1.CreateOptions{})
		}
		if err != nil {
			return fmt.Errorf("creating %s %s/%s: %w", gvk.Kind, u.GetNamespace(), u.GetName(), err)
		}
	}
	return nil
}
