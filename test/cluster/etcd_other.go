//go:build !linux

package cluster

import "os/exec"

// setParentDeathSignal is a no-op outside Linux.
func setParentDeathSignal(*exec.Cmd) {}
