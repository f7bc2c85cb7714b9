//go:build linux

package testbed

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the child in its own process group (so Close can kill
// everything it spawned) and asks the kernel to SIGKILL it if the test binary
// dies first, so a crashed or killed test never leaves goaws running.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(cmd *exec.Cmd) error {
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
