package sim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// KwokNodeAnnotation marks the nodes kwok manages.
const KwokNodeAnnotation = "kwok.x-k8s.io/node"

// kwokStages are the kwok v0.8.0 stages a run needs, from the kwok module:
// nodes become Ready and keep their Lease, bound pods start, deleted pods go.
var kwokStages = []string{
	"kustomize/stage/node/fast/node-initialize.yaml",
	"kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"kustomize/stage/pod/fast/pod-ready.yaml",
	"kustomize/stage/pod/fast/pod-delete.yaml",
}

// Kwok is a kwok process simulating the nodes annotated KwokNodeAnnotation:
// they become Ready and keep their Lease, and their bound pods start.
type Kwok struct{ *child }

// StartKwok runs binary (sigs.k8s.io/kwok/cmd/kwok, make kwok) against the
// cluster of kubeconfig, with the stages read from the kwok module at
// moduleDir, logging into dir. Fake pods get loopback addresses: nothing
// ever connects to them.
func StartKwok(binary, moduleDir, kubeconfig, dir string) (*Kwok, error) {
	var stages bytes.Buffer
	for _, s := range kwokStages {
		data, err := os.ReadFile(filepath.Join(moduleDir, s))
		if err != nil {
			return nil, fmt.Errorf("reading kwok stage: %w", err)
		}
		stages.WriteString("---\n")
		stages.Write(data)
	}
	stagesPath := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(stagesPath, stages.Bytes(), 0o644); err != nil {
		return nil, err
	}
	c, err := startChild(binary, filepath.Join(dir, "kwok.log"),
		"--kubeconfig="+kubeconfig,
		"--config="+stagesPath,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+KwokNodeAnnotation+"=fake",
		"--cidr=127.16.0.0/16",
		"--node-ip=127.0.0.1",
		"--server-address=",
	)
	if err != nil {
		return nil, err
	}
	return &Kwok{c}, nil
}
