package cluster

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the child when this process
// dies, so a crashed test does not leave etcd running.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
