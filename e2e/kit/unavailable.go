package kit

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Required reports whether a missing real part must fail tests
// (DOCS_APPLIANCE_REQUIRE_KIT=1: make test, make e2e and CI set it).
func Required() bool { return os.Getenv(EnvRequireKit) == "1" }

// Unavailable is the one way a test ends because a real part it runs
// (a kit binary, git, nginx, openssl, root...) is not on this machine: a
// failure under DOCS_APPLIANCE_REQUIRE_KIT=1, a skip in a plain `go test`
// by hand, with the same words either way: what is missing and how to get
// it. It is only for a part that is absent: a part that is there and
// fails is the test's failure (t.Fatal), never this.
func Unavailable(t testing.TB, what, howToGet string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s is not here: %s (%s=1: a missing part is a failure)", what, howToGet, EnvRequireKit)
		return
	}
	t.Skipf("skipping: %s is not here: %s (set %s=1 to make this a failure)", what, howToGet, EnvRequireKit)
}

// Need passes a nil err, ends t through Unavailable for a *MissingError,
// and fails t for any other error: a kit that is there but broken is a
// failure even in a plain `go test`.
func Need(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var m *MissingError
	if errors.As(err, &m) {
		Unavailable(t, m.What+" ("+m.Path+")", m.HowToGet())
		return
	}
	t.Fatal(err)
}

// HowToGet says how to build the missing part.
func (e *MissingError) HowToGet() string {
	return fmt.Sprintf("run `make %s` (builds it once into the cache)", e.Target)
}

// Program finds name on PATH, or ends t through Unavailable with
// howToGet (e.g. "apt-get install nginx-core"). An error other than
// "not found" fails t.
func Program(t testing.TB, name, howToGet string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if errors.Is(err, exec.ErrNotFound) {
		Unavailable(t, name, howToGet)
		return ""
	}
	if err != nil {
		t.Fatalf("looking for %s on PATH: %v", name, err)
	}
	return p
}

// File checks that path exists, or ends t through Unavailable saying it
// is what and how to get it. An error other than "does not exist" (a
// permission problem, an I/O error) fails t.
func File(t testing.TB, path, what, howToGet string) {
	t.Helper()
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		Unavailable(t, what+" ("+path+")", howToGet)
		return
	}
	if err != nil {
		t.Fatalf("looking for %s: %v", what, err)
	}
}

// Root ends t through Unavailable when the test does not run as root;
// why says what needs it. CI (.ci/run) runs as root, so under
// DOCS_APPLIANCE_REQUIRE_KIT=1 a test that needs root fails instead of
// passing without having run.
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "root ("+why+")", "run the tests as root, as .ci/run does (sudo -E make test)")
	}
}

// SOPSVersion is the sops CLI `make sops-cli` builds (the Makefile's SOPS_VERSION).
const SOPSVersion = "v3.13.3"

// SOPS is the real sops CLI for interop tests: $DOCS_APPLIANCE_SOPS (make test sets it), else
// the one `make sops-cli` built into the cache; missing, it ends t through Unavailable.
func SOPS(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("DOCS_APPLIANCE_SOPS"); p != "" {
		return p
	}
	cache, err := CacheRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(cache, "sops-"+SOPSVersion, "sops")
	File(t, p, "the sops CLI", "run `make sops-cli` (builds getsops/sops "+SOPSVersion+" from the Go module proxy into the cache)")
	return p
}

// StaticProgram builds the Go program source (package main) into a static binary at out, as
// k3s and docs-appliance are built: for tests of what carries or runs such programs.
func StaticProgram(t testing.TB, source, out string) {
	t.Helper()
	goBin := Program(t, "go", "install Go")
	src := out + ".go"
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "build", "-o", out, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", out, err, b)
	}
}

// Untar writes the tar stream r under dir, folders and regular files (with their modes, and
// every folder writable by the test): for tests that read back an archive the code wrote.
func Untar(t testing.TB, r io.Reader, dir string) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode).Perm()|0o700)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				var data []byte
				if data, err = io.ReadAll(tr); err == nil {
					err = os.WriteFile(p, data, os.FileMode(h.Mode).Perm()|0o400)
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// UntarFile is Untar of the archive file at path.
func UntarFile(t testing.TB, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	Untar(t, f, dir)
}
