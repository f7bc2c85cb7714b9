// Package imagebuild assembles the casebridge worker's container image
// without a Docker engine: the static binary (and a CA bundle) as one layer
// on an empty base, configured the way deploy/Dockerfile configures it.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Defaults that mirror deploy/Dockerfile; the deploy tests hold the two
// together.
const (
	DefaultBinaryPath = "/worker"
	// User is numeric so the image needs no /etc/passwd; 65532 is the
	// "nonroot" user of distroless images.
	User = "65532:65532"
	// CACertsPath is where Go's crypto/x509 looks for roots on Linux.
	CACertsPath = "/etc/ssl/certs/ca-certificates.crt"
)

// Options says what goes into the image.
type Options struct {
	// Binary is the worker executable on disk (linux, CGO_ENABLED=0).
	Binary string
	// BinaryPath is where it lands in the image; empty means DefaultBinaryPath.
	BinaryPath string
	// CACerts is a PEM bundle on disk copied to CACertsPath; empty leaves
	// TLS roots out, which is right only for a binary that embeds its own
	// (golang.org/x/crypto/x509roots/fallback).
	CACerts string
	// Platform of the binary, e.g. {OS: "linux", Architecture: "arm64"}.
	Platform v1.Platform
	// Labels become the image config's labels (OCI annotation keys).
	Labels map[string]string
	// Cmd follows the entrypoint; nil means ["run"].
	Cmd []string
	// Created stamps the config; zero keeps the Unix epoch, so the same
	// inputs give the same digest.
	Created time.Time
}

// Build returns the image described by opts, in OCI media types.
func Build(opts Options) (v1.Image, error) {
	if opts.Binary == "" {
		return nil, errors.New("imagebuild: no binary given")
	}
	if opts.Platform.OS == "" || opts.Platform.Architecture == "" {
		return nil, errors.New("imagebuild: platform OS and architecture are required")
	}
	binPath := opts.BinaryPath
	if binPath == "" {
		binPath = DefaultBinaryPath
	}
	if !path.IsAbs(binPath) {
		return nil, fmt.Errorf("imagebuild: binary path %q is not absolute", binPath)
	}
	files := []file{{src: opts.Binary, dst: binPath, mode: 0o755}}
	if opts.CACerts != "" {
		files = append(files, file{src: opts.CACerts, dst: CACertsPath, mode: 0o644})
	}
	layerTar, err := tarFiles(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("imagebuild: layer: %w", err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, fmt.Errorf("imagebuild: append layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("imagebuild: config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS = opts.Platform.OS
	cfg.Architecture = opts.Platform.Architecture
	cfg.Variant = opts.Platform.Variant
	cmd := opts.Cmd
	if cmd == nil {
		cmd = []string{"run"}
	}
	cfg.Config = v1.Config{
		User:         User,
		Entrypoint:   []string{binPath},
		Cmd:          cmd,
		Labels:       opts.Labels,
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		// No shell in the image: the health check is the binary itself.
		Healthcheck: &v1.HealthConfig{
			Test:        []string{"CMD", binPath, "healthcheck"},
			Interval:    15 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 15 * time.Second,
			Retries:     3,
		},
	}
	cfg.Created = v1.Time{Time: opts.Created}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("imagebuild: set config: %w", err)
	}
	return img, nil
}

// WriteLayout writes img as the only image of a new OCI image layout in dir.
func WriteLayout(dir string, img v1.Image) (layout.Path, error) {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return "", fmt.Errorf("imagebuild: layout: %w", err)
	}
	if err := p.AppendImage(img); err != nil {
		return "", fmt.Errorf("imagebuild: layout: %w", err)
	}
	return p, nil
}

// ReadLayout reads back the one image an OCI layout written by WriteLayout holds.
func ReadLayout(dir string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("imagebuild: layout: %w", err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("imagebuild: layout: %w", err)
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("imagebuild: layout holds %d manifests, want 1", len(m.Manifests))
	}
	return idx.Image(m.Manifests[0].Digest)
}

type file struct {
	src, dst string
	mode     int64
}

// tarFiles builds the layer: each file with its parent directories, owned
// by root so the non-root user can run but not replace them.
func tarFiles(files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f.src)
		if err != nil {
			return nil, fmt.Errorf("imagebuild: %w", err)
		}
		rel := strings.TrimPrefix(f.dst, "/")
		var parents []string
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, Format: tar.FormatPAX}); err != nil {
				return nil, fmt.Errorf("imagebuild: tar: %w", err)
			}
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: f.mode, Size: int64(len(data)), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("imagebuild: tar: %w", err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("imagebuild: tar: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("imagebuild: tar: %w", err)
	}
	return buf.Bytes(), nil
}
