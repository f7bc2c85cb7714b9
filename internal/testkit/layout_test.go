// Package testkit_test holds checks on the repository itself.
package testkit_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/casebridge/casebridge/internal/testkit/testbed"
)

// TestReadmeLayoutNamesEveryPackage: the README's layout table names every
// package of the module (a row may name several), and nothing that is gone.
func TestReadmeLayoutNamesEveryPackage(t *testing.T) {
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "## Layout")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z][a-z0-9_./-]*)/`").FindAllStringSubmatch(layout, -1) {
		named[m[1]] = true
	}
	cmd := exec.Command("go", "list", "-f", "{{.Dir}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dirs := map[string]bool{}
	for _, dir := range strings.Fields(string(out)) {
		rel, _ := filepath.Rel(root, dir)
		dirs[filepath.ToSlash(rel)] = true
		if !named[filepath.ToSlash(rel)] {
			t.Errorf("package %s/ is not in the README's layout table", rel)
		}
	}
	for path := range named {
		if !dirs[path] {
			t.Errorf("the README's layout table names %s/, which is not a package", path)
		}
	}
}
