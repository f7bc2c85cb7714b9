package imagebuild

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var arm64 = v1.Platform{OS: "linux", Architecture: "arm64"}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// files lists the regular files of img's flattened filesystem.
func files(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

func TestBuildOptionsErrors(t *testing.T) {
	t.Parallel()
	bin := writeFile(t, "worker", "bin")
	tests := []struct {
		name string
		opts Options
	}{
		{"no binary", Options{Platform: arm64}},
		{"no platform", Options{Binary: bin}},
		{"relative path", Options{Binary: bin, BinaryPath: "worker", Platform: arm64}},
		{"missing binary", Options{Binary: filepath.Join(t.TempDir(), "nope"), Platform: arm64}},
		{"missing certs", Options{Binary: bin, CACerts: filepath.Join(t.TempDir(), "nope"), Platform: arm64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Build(tt.opts); err == nil {
				t.Fatal("Build succeeded")
			}
		})
	}
}

func TestBuildAndLayoutRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		certs     bool
		binPath   string
		wantFiles []string
	}{
		{"with CA bundle", true, "", []string{"worker", "etc/ssl/certs/ca-certificates.crt"}},
		{"embedded roots, custom path", false, "/app/worker", []string{"app/worker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{
				Binary:     writeFile(t, "worker", "\x7fELF fake worker"),
				BinaryPath: tt.binPath,
				Platform:   arm64,
				Labels:     map[string]string{"org.opencontainers.image.title": "casebridge-worker"},
			}
			if tt.certs {
				opts.CACerts = writeFile(t, "ca.pem", "-----BEGIN CERTIFICATE-----\n")
			}
			img, err := Build(opts)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if _, err := WriteLayout(dir, img); err != nil {
				t.Fatal(err)
			}
			back := readBack(t, dir)

			want, _ := img.Digest()
			got, _ := back.Digest()
			if got != want {
				t.Fatalf("read back digest %s, wrote %s", got, want)
			}
			mt, _ := back.MediaType()
			if mt != types.OCIManifestSchema1 {
				t.Errorf("media type %s, want OCI", mt)
			}
			cfg, err := back.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			binPath := tt.binPath
			if binPath == "" {
				binPath = DefaultBinaryPath
			}
			if cfg.Config.User != User || !slices.Equal(cfg.Config.Entrypoint, []string{binPath}) ||
				!slices.Equal(cfg.Config.Cmd, []string{"run"}) || cfg.OS != "linux" || cfg.Architecture != "arm64" {
				t.Errorf("config = user %q entrypoint %v cmd %v %s/%s", cfg.Config.User, cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.OS, cfg.Architecture)
			}
			if cfg.Config.Labels["org.opencontainers.image.title"] != "casebridge-worker" {
				t.Errorf("labels = %v", cfg.Config.Labels)
			}
			fs := files(t, back)
			for _, f := range tt.wantFiles {
				if fs[f] == nil {
					t.Errorf("image lacks %s (has %v)", f, fs)
				}
			}
			if h := fs[tt.wantFiles[0]]; h != nil && (h.Mode&0o111 == 0 || h.Uid != 0) {
				t.Errorf("binary mode %o uid %d, want executable and root-owned", h.Mode, h.Uid)
			}
			if !tt.certs && fs["etc/ssl/certs/ca-certificates.crt"] != nil {
				t.Error("CA bundle present though none was given")
			}
		})
	}
}

// TestBuildIsReproducible: same inputs, same digest (no timestamps leak in).
func TestBuildIsReproducible(t *testing.T) {
	t.Parallel()
	opts := Options{Binary: writeFile(t, "worker", "same"), Platform: arm64}
	a, err := Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(opts)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("digests differ: %s vs %s", da, db)
	}
}

func readBack(t *testing.T, dir string) v1.Image {
	t.Helper()
	img, err := ReadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
