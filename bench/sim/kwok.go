package sim

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
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
type Kwok struct {
	cmd  *exec.Cmd
	done chan struct{}
}

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
	logFile, err := os.Create(filepath.Join(dir, "kwok.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary,
		"--kubeconfig="+kubeconfig,
		"--config="+stagesPath,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+KwokNodeAnnotation+"=fake",
		"--cidr=127.16.0.0/16",
		"--node-ip=127.0.0.1",
		"--server-address=",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting kwok: %w", err)
	}
	k := &Kwok{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(k.done) }()
	return k, nil
}

// Stop ends kwok and waits for it.
func (k *Kwok) Stop() {
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(10 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.done
	}
}
