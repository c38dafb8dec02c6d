package sim

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// child is a process a run starts (a scheduler, kwok, a controller),
// logging into a file and killed if the run dies.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startChild runs binary with args, its output into logPath.
func startChild(binary, logPath string, args ...string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", binary, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(c.done) }()
	return c, nil
}

// exited tells whether the process ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Stop ends the process and waits for it.
func (c *child) Stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
