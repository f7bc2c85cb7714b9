package testbed

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// ToolsDirEnv names the environment variable that overrides where the pinned
// tools live (default <repo>/.bin), for CI images that install them elsewhere.
const ToolsDirEnv = "CASEBRIDGE_TOOLS_DIR"

// RepoRoot walks up from the working directory to the directory holding go.mod.
// Tests run with the package directory as working directory, so this finds the
// module root from any package.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testbed: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testbed: no go.mod found above the working directory")
		}
		dir = parent
	}
}

// ToolPath returns the path of a pinned external tool (goaws, aws-lambda-rie):
// $CASEBRIDGE_TOOLS_DIR/name when the variable is set, else <repo>/.bin/name.
func ToolPath(name string) (string, error) {
	dir := os.Getenv(ToolsDirEnv)
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, ".bin")
	}
	p := filepath.Join(dir, name)
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("testbed: tool %q not found at %s (run scripts/tools.sh): %w", name, p, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("testbed: tool %q at %s is not executable (run scripts/tools.sh)", name, p)
	}
	return p, nil
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1. The port is free
// when FreePort returns, not necessarily when the caller binds it: callers that
// hand it to another process must retry on a bind failure (StartGoaws does).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testbed: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
