//go:build !linux

package testbed

import "os/exec"

// Outside Linux there is no parent-death signal; Close still kills the child.
func setProcAttr(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
