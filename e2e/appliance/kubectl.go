//go:build e2e

package appliance

import (
	"context"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/e2e/images"
	"github.com/suitenumerique/docs-appliance/installer/gitserver"
)

// kubectlPackages are the Debian packages whose programs the kubectl image carries: what the
// appliance's scripts that drive the API (the restore check) run besides kubectl.
var kubectlPackages = []string{"bash", "coreutils", "sed", "grep", "mawk", "jq", "findutils"}

// KubectlImage writes, to out, an image tagged tag holding the node kit's kubectl and this
// machine's bash, coreutils, sed, grep, awk, jq and find with the libraries they need (as the git
// server's image takes this machine's git): a stand-in for the train's kubectl image, which
// cannot be pulled here. Its kubectl is the node kit's (one Kubernetes minor away from the
// train's, within kubectl's skew). jq must be installed (Debian's jq package).
func (e *Env) KubectlImage(ctx context.Context, t *testing.T, tag, out string) {
	t.Helper()
	var programs []string
	for _, pkg := range kubectlPackages {
		list, err := exec.CommandContext(ctx, "dpkg", "-L", pkg).Output()
		if err != nil {
			t.Fatalf("listing the files of Debian's %s package (install it: apt-get install %s): %v", pkg, pkg, err)
		}
		for _, f := range strings.Split(string(list), "\n") {
			if d := path.Dir(f); d == "/bin" || d == "/usr/bin" {
				programs = append(programs, f)
			}
		}
	}
	files, err := gitserver.ProgramFiles("/", programs...)
	if err != nil {
		t.Fatalf("collecting the kubectl image's programs: %v", err)
	}
	spec := images.Spec{Tag: tag, User: "65532:65532", Entrypoint: []string{"/usr/local/bin/kubectl"},
		Files: []images.File{{Path: "/usr/local/bin/kubectl", Mode: 0o755, Source: filepath.Join(e.dirs.Kube, "kubectl")}}}
	for _, f := range files {
		spec.Files = append(spec.Files, images.File{Path: f.Path, Mode: f.Mode, Data: f.Data})
		if f.Path == "/usr/bin/mawk" {
			spec.Files = append(spec.Files, images.File{Path: "/usr/bin/awk", Mode: f.Mode, Data: f.Data})
		}
		if f.Path == "/bin/bash" {
			spec.Files = append(spec.Files, images.File{Path: "/bin/sh", Mode: f.Mode, Data: f.Data})
		}
	}
	if err := images.Write(spec, out); err != nil {
		t.Fatal(err)
	}
}
