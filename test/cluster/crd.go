package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/klog/v2"
)

const (
	schedulerPluginsModule = "sigs.k8s.io/scheduler-plugins"
	// schedulerPluginsVersion is the version go.mod requires, used only
	// when neither `go list` nor the build information can tell.
	schedulerPluginsVersion = "v0.34.7"
	podGroupCRDFile         = "config/crd/bases/scheduling.x-k8s.io_podgroups.yaml"

	// crdJustCreatedWindow is how long after becoming Established the API
	// server delays creates of a CRD's objects, plus a margin.
	crdJustCreatedWindow = 2*time.Second + 100*time.Millisecond

	crdPollInterval = 100 * time.Millisecond
	crdTimeout      = 30 * time.Second
)

// InstallCRDs creates the CustomResourceDefinitions in the given YAML files
// (several documents per file allowed; documents of other kinds are an
// error) and waits until each is Established and every served version is
// listed by discovery. It then waits out the 2 s after Established during
// which the API server delays every create of the new kind by 2 s, so it
// returns about 2 s after the CRDs were created and objects can be created
// at full speed. CRDs that already exist are left as they are and waited
// for too.
func (c *Cluster) InstallCRDs(ctx context.Context, paths ...string) error {
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, path := range paths {
		fromFile, err := readCRDs(path)
		if err != nil {
			return err
		}
		crds = append(crds, fromFile...)
	}
	return c.installCRDs(ctx, crds)
}

// installCRDs is InstallCRDs for decoded CustomResourceDefinitions.
func (c *Cluster) installCRDs(ctx context.Context, crds []*apiextensionsv1.CustomResourceDefinition) error {
	logger := klog.FromContext(ctx)
	client := c.APIExtensions.ApiextensionsV1().CustomResourceDefinitions()
	for _, crd := range crds {
		_, err := client.Create(ctx, crd, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", crd.Name, err)
		}
	}
	var established time.Time
	for _, crd := range crds {
		at, err := c.waitCRDServed(ctx, crd)
		if err != nil {
			return err
		}
		if at.After(established) {
			established = at
		}
		logger.V(2).Info("CRD served", "crd", crd.Name)
	}
	// The API server delays each create of a custom resource by 2 s while
	// its CRD became Established less than 2 s ago (apiextensions-apiserver
	// customresource_handler.go, "justCreated"). Sit that window out here,
	// once, rather than in the first creates of every caller. The server
	// compares against the same, second-truncated, LastTransitionTime.
	if wait := time.Until(established.Add(crdJustCreatedWindow)); wait > 0 {
		logger.V(3).Info("Waiting for the new-CRD create delay to pass", "duration", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for new CRDs to settle: %w", context.Cause(ctx))
		case <-time.After(wait):
		}
	}
	return nil
}

// readCRDs decodes every non-empty YAML document in path as a
// CustomResourceDefinition.
func readCRDs(path string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading CRDs: %w", err)
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		err := dec.Decode(crd)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("decoding CRD in %s: %w", path, err)
		}
		if crd.Kind == "" && crd.Name == "" {
			continue // An empty document, e.g. after a trailing "---".
		}
		if crd.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("decoding CRD in %s: document %q is a %q, not a CustomResourceDefinition", path, crd.Name, crd.Kind)
		}
		crds = append(crds, crd)
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("reading CRDs: no CustomResourceDefinition in %s", path)
	}
	return crds, nil
}

// waitCRDServed waits until crd is Established and discovery lists its
// resource in every served version, and returns when it became
// Established.
func (c *Cluster) waitCRDServed(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) (time.Time, error) {
	client := c.APIExtensions.ApiextensionsV1().CustomResourceDefinitions()
	var (
		lastProblem string
		established time.Time
	)
	err := wait.PollUntilContextTimeout(ctx, crdPollInterval, crdTimeout, true, func(ctx context.Context) (bool, error) {
		got, err := client.Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			lastProblem = err.Error()
			return false, nil
		}
		var ok bool
		if established, ok = crdEstablished(got); !ok {
			lastProblem = "not Established"
			return false, nil
		}
		for _, v := range got.Spec.Versions {
			if !v.Served {
				continue
			}
			gv := got.Spec.Group + "/" + v.Name
			list, err := c.Client.Discovery().ServerResourcesForGroupVersion(gv)
			if err != nil {
				lastProblem = fmt.Sprintf("discovery of %s: %v", gv, err)
				return false, nil
			}
			if !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool {
				return r.Name == got.Spec.Names.Plural
			}) {
				lastProblem = fmt.Sprintf("discovery of %s does not list %s", gv, got.Spec.Names.Plural)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("waiting for CRD %s to be served (%s): %w", crd.Name, lastProblem, err)
	}
	return established, nil
}

// crdEstablished reports whether crd is Established, and since when.
func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) (time.Time, bool) {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established {
			return cond.LastTransitionTime.Time, cond.Status == apiextensionsv1.ConditionTrue
		}
	}
	return time.Time{}, false
}

var podGroupCRD struct {
	once sync.Once
	path string
	err  error
}

// PodGroupCRDPath returns the scheduler-plugins PodGroup CRD
// (scheduling.x-k8s.io_podgroups.yaml) in the module cache. The module
// directory comes from `go list -m` in the repository, resolved once per
// process; without a go command it falls back to
// $GOMODCACHE/sigs.k8s.io/scheduler-plugins@<version from the build info>.
func PodGroupCRDPath() (string, error) {
	podGroupCRD.once.Do(func() {
		podGroupCRD.path, podGroupCRD.err = findPodGroupCRD()
	})
	return podGroupCRD.path, podGroupCRD.err
}

func findPodGroupCRD() (string, error) {
	var tried []string
	if dir, err := goListModuleDir(schedulerPluginsModule); err == nil {
		p := filepath.Join(dir, podGroupCRDFile)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	} else {
		tried = append(tried, err.Error())
	}
	p := filepath.Join(goModCache(), schedulerPluginsModule+"@"+moduleVersion(schedulerPluginsModule), podGroupCRDFile)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	tried = append(tried, p)
	return "", fmt.Errorf("finding the PodGroup CRD: tried %s", strings.Join(tried, "; "))
}

// goListModuleDir asks the go command, run in the repository, for the
// directory of module.
func goListModuleDir(module string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	if root, err := RepoRoot(); err == nil {
		cmd.Dir = root
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w: %s", module, err, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go list -m %s: module not downloaded", module)
	}
	return dir, nil
}

// goModCache returns GOMODCACHE as the go command would default it.
func goModCache() string {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		return filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "pkg", "mod")
}

// moduleVersion returns the version of module linked into this binary.
func moduleVersion(module string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path != module {
				continue
			}
			if dep.Replace != nil {
				dep = dep.Replace
			}
			if dep.Version != "" {
				return dep.Version
			}
		}
	}
	return schedulerPluginsVersion
}

// InstallGangschedCRDs installs the CRDs gang-scheduler watches: the
// scheduler-plugins PodGroup (and ElasticQuota, which scheduler-plugins'
// controller watches) and gangsched's Queue (manifests/crds).
func (c *Cluster) InstallGangschedCRDs(ctx context.Context) error {
	crd, err := PodGroupCRDPath()
	if err != nil {
		return err
	}
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	return c.InstallCRDs(ctx, crd, filepath.Join(filepath.Dir(crd), "scheduling.x-k8s.io_elasticquotas.yaml"),
		filepath.Join(root, "manifests", "crds", "scheduling.gangsched.io_queues.yaml"))
}
