// Command peakrss runs a command and reports that command's own peak
// resident memory, for tests that bound a binary's memory.
//
// Why a process of its own: on Linux a child's rusage (ru_maxrss) counts
// the memory of the process that started it, because os/exec starts
// children with vfork and exec carries the parent's high-water mark over.
// Measured from a test process, a small binary reads as big as the test.
// Started from this small process instead, it reads as itself.
//
//	peakrss COMMAND [ARG...]
//
// It passes stdin, stdout, stderr and the environment through, prints
// "peakrss: N KiB" on stderr as its last line, and exits with the
// command's exit code.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: peakrss COMMAND [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintln(os.Stderr, "peakrss:", err)
		os.Exit(2)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		fmt.Fprintf(os.Stderr, "peakrss: %d KiB\n", ru.Maxrss) // KiB on Linux
	}
	os.Exit(cmd.ProcessState.ExitCode())
}
