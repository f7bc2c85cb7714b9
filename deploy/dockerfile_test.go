package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const dockerfilePath = "Dockerfile"

// dockerfile is what the tests need from deploy/Dockerfile.
type dockerfile struct {
	binaryPath string   // where the worker lands, the entrypoint
	entrypoint []string // exec form
	cmd        []string
	user       string
	labels     []string // label keys
	certs      bool     // copies a CA bundle to /etc/ssl/certs
	healthExec []string
}

func mustDockerfile(t *testing.T) dockerfile {
	t.Helper()
	data, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines so each instruction is one line.
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var df dockerfile
	stage := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			stage++
		case "USER":
			df.user = rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &df.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT must be exec form: %v", err)
			}
		case "CMD":
			if err := json.Unmarshal([]byte(rest), &df.cmd); err != nil {
				t.Fatalf("CMD must be exec form: %v", err)
			}
		case "COPY":
			f := strings.Fields(rest)
			dst := f[len(f)-1]
			if stage > 1 && strings.HasPrefix(dst, "/etc/ssl/certs/") {
				df.certs = true
			}
			if stage > 1 && strings.Contains(rest, "/out/worker") {
				df.binaryPath = dst
			}
		case "LABEL":
			for _, f := range strings.Fields(rest) {
				if k, _, ok := strings.Cut(f, "="); ok {
					df.labels = append(df.labels, k)
				}
			}
		case "HEALTHCHECK":
			if _, after, ok := strings.Cut(rest, "CMD "); ok {
				if err := json.Unmarshal([]byte(after), &df.healthExec); err != nil {
					t.Fatalf("HEALTHCHECK CMD must be exec form: %v", err)
				}
			}
		}
	}
	if df.binaryPath == "" {
		t.Fatal("Dockerfile does not copy the worker into the final stage")
	}
	return df
}

// TestDockerfile pins the promises the ECS template and the CI-built image
// rely on.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	df := mustDockerfile(t)
	if df.user != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532", df.user)
	}
	if len(df.entrypoint) != 1 || df.entrypoint[0] != df.binaryPath {
		t.Errorf("ENTRYPOINT %v, want [%s]", df.entrypoint, df.binaryPath)
	}
	if strings.Join(df.cmd, " ") != "run" {
		t.Errorf("CMD %v, want [run]", df.cmd)
	}
	if !df.certs {
		t.Error("final stage has no CA bundle under /etc/ssl/certs")
	}
	if strings.Join(df.healthExec, " ") != df.binaryPath+" healthcheck" {
		t.Errorf("HEALTHCHECK %v, want [%s healthcheck]", df.healthExec, df.binaryPath)
	}
	if len(df.labels) == 0 {
		t.Error("no OCI labels")
	}
}

// TestDockerignore: the build context leaves out .git, local build output
// and secrets, docs and tests, and nothing the worker's build reads (go.mod,
// go.sum, the Go and embedded files of every package of the module that
// cmd/worker imports).
func TestDockerignore(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatalf("no .dockerignore: .git and local files would enter the build context: %v", err)
	}
	var patterns []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, must := range []string{".git", ".bin", ".env", "**/*_test.go"} {
		if !slices.Contains(patterns, must) {
			t.Errorf(".dockerignore lacks %s", must)
		}
	}
	out, err := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if eq .Module.Path "github.com/casebridge/casebridge"}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}`,
		"../cmd/worker").Output()
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	needed := []string{"go.mod", "go.sum", "cmd/worker/main.go"}
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		needed = append(needed, filepath.ToSlash(rel))
	}
	for _, f := range needed {
		if p := dockerIgnored(patterns, f); p != "" {
			t.Errorf(".dockerignore pattern %q excludes %s, which the worker's build needs", p, f)
		}
	}
	for _, f := range []string{".git/HEAD", "docs/deployment.md", "internal/worker/worker_test.go", ".env"} {
		if dockerIgnored(patterns, f) == "" {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}

// dockerIgnored returns the pattern that excludes path (or one of its
// directories), in the subset of .dockerignore syntax the file uses: Go
// path.Match globs, and a leading **/ for any depth. No ! exceptions.
func dockerIgnored(patterns []string, p string) string {
	parts := strings.Split(p, "/")
	for _, pat := range patterns {
		for i := 1; i <= len(parts); i++ {
			prefix := strings.Join(parts[:i], "/")
			if ok, _ := path.Match(pat, prefix); ok {
				return pat
			}
			if rest, any := strings.CutPrefix(pat, "**/"); any {
				for j := 0; j < i; j++ {
					if ok, _ := path.Match(rest, strings.Join(parts[j:i], "/")); ok {
						return pat
					}
				}
			}
		}
	}
	return ""
}
