package images

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
)

// Images the harness builds from this repository, under the names manifests use.
const (
	// Pause is the sandbox image containerd 2.4 pins (e2e/kit/versions.env PAUSE_IMAGE).
	Pause = "registry.k8s.io/pause:3.10.2"
	// Standin is the stand-in application (e2e/images/standin).
	Standin = "docs-appliance.test/standin:e2e"
)

// File is one file of an image: its content comes from Source (a path on this machine) or Data.
type File struct {
	Path   string // absolute path in the image, e.g. /usr/local/bin/app
	Mode   int64  // permission bits, e.g. 0o755
	Source string
	Data   []byte
}

// Spec describes a one-layer image.
type Spec struct {
	Tag        string // e.g. ghcr.io/fluxcd/source-controller:v1.9.5
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=VALUE
	User       string   // e.g. 65534:65534; empty runs as root
	WorkingDir string
	Files      []File
	// RootFS, when set, is a folder holding the image's whole file system (links kept), used
	// instead of Files: for images assembled from unpacked Debian packages.
	RootFS string
}

// Write packs spec into a docker-archive tarball at out (replaced atomically). The layer also holds
// a world-writable /tmp. Timestamps are zero, so the same inputs give the same image digest.
func Write(spec Spec, out string) error {
	ref, err := name.NewTag(spec.Tag)
	if err != nil {
		return fmt.Errorf("parsing image tag %q: %w", spec.Tag, err)
	}
	var l v1.Layer
	if spec.RootFS != "" {
		if len(spec.Files) > 0 {
			return fmt.Errorf("image %s: give Files or RootFS, not both (put the files into the root file system)", spec.Tag)
		}
		layerFile, err := rootFSLayerFile(spec.RootFS, out)
		if err != nil {
			return fmt.Errorf("building the layer of %s: %w", spec.Tag, err)
		}
		defer os.Remove(layerFile)
		if l, err = tarball.LayerFromFile(layerFile); err != nil {
			return fmt.Errorf("reading the layer of %s: %w", spec.Tag, err)
		}
	} else {
		layerTar, err := layer(spec.Files)
		if err != nil {
			return fmt.Errorf("building the layer of %s: %w", spec.Tag, err)
		}
		l, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil })
		if err != nil {
			return fmt.Errorf("reading the layer of %s: %w", spec.Tag, err)
		}
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Config: v1.Config{
			Entrypoint: spec.Entrypoint,
			Cmd:        spec.Cmd,
			Env:        append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, spec.Env...),
			User:       spec.User,
			WorkingDir: spec.WorkingDir,
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return fmt.Errorf("configuring %s: %w", spec.Tag, err)
	}
	img, err = mutate.AppendLayers(img, l)
	if err != nil {
		return fmt.Errorf("adding the layer of %s: %w", spec.Tag, err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("making the folder of %s: %w", out, err)
	}
	tmp := out + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s to %s: %w", spec.Tag, out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("writing %s to %s: %w", spec.Tag, out, err)
	}
	return nil
}

// layer is the image's one layer: the files (read from their Source when given), their parent
// directories and /tmp, packed the way the git server's image is.
func layer(files []File) ([]byte, error) {
	out := make([]gitserver.ImageFile, 0, len(files))
	for _, f := range files {
		if f.Source != "" {
			data, err := os.ReadFile(f.Source)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", f.Source, err)
			}
			f.Data = data
		}
		if f.Mode == 0 {
			f.Mode = 0o644
		}
		out = append(out, gitserver.ImageFile{Path: f.Path, Mode: f.Mode, Data: f.Data})
	}
	return gitserver.Layer(out)
}

// BuildGo compiles the main package pkg (e.g. "./e2e/images/standin") of the module in moduleDir
// into a static linux/amd64 binary at out.
func BuildGo(ctx context.Context, moduleDir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", pkg, err, output)
	}
	return nil
}

// ModuleDir finds the root of the module the current directory is in (tests run in their
// package's folder).
func ModuleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root with go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("finding the module root: not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// GoProgram is an image made of one Go program of this repository.
type GoProgram struct {
	Package string // e.g. ./e2e/images/standin
	Tag     string
	User    string
	Env     []string
}

// Build compiles the program and packs it at dir/<last element of Package>.tar, with the binary
// at /app as the entrypoint. It returns the tarball's path.
func (g GoProgram) Build(ctx context.Context, moduleDir, dir string) (string, error) {
	base := path.Base(g.Package)
	bin := filepath.Join(dir, base+".bin")
	if err := BuildGo(ctx, moduleDir, g.Package, bin); err != nil {
		return "", err
	}
	defer os.Remove(bin)
	out := filepath.Join(dir, base+".tar")
	err := Write(Spec{
		Tag:        g.Tag,
		Entrypoint: []string{"/app"},
		Env:        g.Env,
		User:       g.User,
		Files:      []File{{Path: "/app", Mode: 0o755, Source: bin}},
	}, out)
	return out, err
}

// TestPrograms are the images every e2e node gets: the pause image and the stand-in application.
func TestPrograms() []GoProgram {
	return []GoProgram{
		{Package: "./e2e/images/pause", Tag: Pause, User: "65535:65535"},
		{Package: "./e2e/images/standin", Tag: Standin, User: "65532:65532"},
	}
}
