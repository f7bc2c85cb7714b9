package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/casebridge/casebridge/internal/testkit/imagebuild"
)

// systemCABundle is the builder's CA bundle, as the Dockerfile's build stage
// (Debian-based golang image) has it.
const systemCABundle = "/etc/ssl/certs/ca-certificates.crt"

// TestWorkerImage builds the image deploy/Dockerfile describes, without a
// Docker engine: the real worker binary, cross-compiled for the ECS task's
// platform (linux/arm64, CGO off), on an empty base; then writes it to an
// OCI layout, reads it back and checks what the Dockerfile and ecs.yaml
// promise.
func TestWorkerImage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the worker binary")
	}
	df := mustDockerfile(t)
	if _, err := os.Stat(systemCABundle); err != nil {
		t.Fatalf("the image needs a CA bundle and the builder has none: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "worker")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/worker")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/worker: %v\n%s", err, out)
	}
	t.Logf("worker built in %v", time.Since(start).Round(time.Millisecond))

	labels := map[string]string{}
	for _, k := range df.labels {
		labels[k] = "test"
	}
	img, err := imagebuild.Build(imagebuild.Options{
		Binary:     bin,
		BinaryPath: df.binaryPath,
		CACerts:    systemCABundle,
		Platform:   v1.Platform{OS: "linux", Architecture: "arm64"},
		Labels:     labels,
		Cmd:        df.cmd,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := imagebuild.WriteLayout(dir, img); err != nil {
		t.Fatal(err)
	}

	back := readLayoutImage(t, dir)
	cfg, err := back.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != df.user {
		t.Errorf("user %q, Dockerfile says %q", cfg.Config.User, df.user)
	}
	if !slices.Equal(cfg.Config.Entrypoint, df.entrypoint) || !slices.Equal(cfg.Config.Cmd, df.cmd) {
		t.Errorf("entrypoint %v cmd %v, Dockerfile says %v %v", cfg.Config.Entrypoint, cfg.Config.Cmd, df.entrypoint, df.cmd)
	}
	if cfg.Config.Healthcheck == nil || !slices.Equal(cfg.Config.Healthcheck.Test, append([]string{"CMD"}, df.healthExec...)) {
		t.Errorf("healthcheck %+v, Dockerfile says %v", cfg.Config.Healthcheck, df.healthExec)
	}
	if cfg.OS != "linux" || cfg.Architecture != "arm64" {
		t.Errorf("platform %s/%s, want linux/arm64 (the task's RuntimePlatform)", cfg.OS, cfg.Architecture)
	}
	for _, k := range df.labels {
		if _, ok := cfg.Config.Labels[k]; !ok {
			t.Errorf("label %s missing", k)
		}
	}

	want, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	fs := extract(t, back)
	worker, ok := fs[strings.TrimPrefix(df.binaryPath, "/")]
	if !ok {
		t.Fatalf("image lacks %s", df.binaryPath)
	}
	if worker.hdr.Mode&0o111 == 0 {
		t.Errorf("%s mode %o is not executable", df.binaryPath, worker.hdr.Mode)
	}
	if !bytes.Equal(worker.data, want) {
		t.Errorf("%s in the image differs from the built binary", df.binaryPath)
	}
	if _, ok := fs[strings.TrimPrefix(imagebuild.CACertsPath, "/")]; !ok {
		t.Errorf("image lacks the CA bundle at %s", imagebuild.CACertsPath)
	}
	checkStaticELF(t, worker.data, elf.EM_AARCH64)

	// The image ships the worker and nothing else: the tools for publishers
	// and operators (check, send, dlq) are cmd/casebridge, not in the image.
	for name, e := range fs {
		if e.hdr.Typeflag == tar.TypeReg && name != strings.TrimPrefix(df.binaryPath, "/") &&
			name != strings.TrimPrefix(imagebuild.CACertsPath, "/") {
			t.Errorf("image holds %s; it should hold only %s and the CA bundle", name, df.binaryPath)
		}
	}
	for _, pkg := range []string{"github.com/casebridge/casebridge/publish.", "github.com/aws/aws-sdk-go-v2/service/sns.", "github.com/casebridge/casebridge/internal/sendcmd."} {
		if bytes.Contains(worker.data, []byte(pkg)) {
			t.Errorf("the worker binary links %s; the publisher belongs in cmd/casebridge", strings.TrimSuffix(pkg, "."))
		}
	}
}

// checkStaticELF: an empty base has no dynamic loader, so the binary must
// not ask for one.
func checkStaticELF(t *testing.T, data []byte, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("worker is not an ELF binary: %v", err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("worker is for %v, want %v", f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("worker is dynamically linked (has PT_INTERP); build with CGO_ENABLED=0")
		}
	}
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

func extract(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = entry{h, data}
	}
}

func readLayoutImage(t *testing.T, dir string) v1.Image {
	t.Helper()
	img, err := imagebuild.ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
