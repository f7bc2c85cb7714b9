package testbed

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// BuildBinary builds the main package pkg (relative to the repository root,
// e.g. "./cmd/worker") to out, statically (CGO off) as containers and Lambda
// run it. Tags are build tags such as "lambda.norpc".
func BuildBinary(out, pkg string, tags ...string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// DemoSeed is the simulator seed the demo, the examples and the tests share.
func DemoSeed() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "examples", "casesim-seed.json"), nil
}

// SyncBuffer collects a child process's output: exec's copying goroutines
// write while the test reads.
type SyncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed on the next write, for Await; nil until one waits
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return n, err
}

// WaitFor blocks until the output holds every one of subs, or timeout has
// passed, and reports whether it does (see Await).
func (b *SyncBuffer) WaitFor(timeout time.Duration, subs ...string) bool {
	return b.Await(timeout, func(out string) bool {
		return !slices.ContainsFunc(subs, func(s string) bool { return !strings.Contains(out, s) })
	})
}

// Await blocks until done holds for the output, or timeout has passed, and
// reports whether it holds. What a process writes reaches the buffer through
// a pipe some time after the process wrote it, so a test that learns by
// another way (an HTTP answer) that it was written waits for it here before
// reading it; each write wakes the wait.
func (b *SyncBuffer) Await(timeout time.Duration, done func(out string) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		if done(b.buf.String()) {
			b.mu.Unlock()
			return true
		}
		if b.written == nil {
			b.written = make(chan struct{})
		}
		written := b.written
		b.mu.Unlock()
		select {
		case <-written:
		case <-deadline.C:
			return false
		}
	}
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
