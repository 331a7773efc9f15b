package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/e2e/images"
	"github.com/suitenumerique/docs-appliance/e2e/kit"
)

// Main is the body of an e2e test package's TestMain. It brings one node up for the whole test
// binary, with the pause and stand-in images (built from this repository), CoreDNS and the Flux
// controller images (from the cache) imported, sets *n, runs the tests, prints the node's memory,
// and takes the node down:
//
//	var cluster *node.Node
//
//	func TestMain(m *testing.M) { os.Exit(node.Main(m, &cluster)) }
//
// Every test calls Need first. A missing kit or image leaves *n nil and the tests run anyway, each
// ending through kit.Unavailable in Need: failed when DOCS_APPLIANCE_REQUIRE_KIT=1, skipped (and
// reported as skipped, not as a silent "ok") otherwise, saying which make target builds it.
func Main(m *testing.M, n **Node) int { return MainCluster(m, n, Options{}) }

// MainCluster is Main for a package that wants more than a one-node cluster: opts.Nodes nodes
// (Node.Workers are the further ones), or another NodeMonitorGracePeriod. Main sets opts.Name,
// Images and DNS.
//
//	func TestMain(m *testing.M) { os.Exit(node.MainCluster(m, &cluster, node.Options{Nodes: 3})) }
func MainCluster(m *testing.M, n **Node, opts Options) int {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "docs-appliance-e2e-images-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "making the image folder:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	imgs, err := testImages(ctx, tmp)
	var missing *kit.MissingError
	if errors.As(err, &missing) {
		unavailable = missing
		return m.Run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	opts.Name, opts.Images, opts.DNS = packageNodeName(), imgs, "1"
	node, err := Up(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e node up in %s (%d node(s)); kubeconfig %s\n", node.Took.Round(100*time.Millisecond), 1+len(node.Workers), node.Kubeconfig)
	*n = node
	// Interrupted (Ctrl-C, CI's kill): take the node down before going. A test binary killed
	// harder leaves it up; the next Up removes it first.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "%v: taking the e2e node down\n", s)
		if err := node.Down(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}()

	code := m.Run()

	if code != 0 {
		node.WriteLogTails(os.Stderr, 40)
	}
	if mem, err := node.MemoryRSS(); err == nil {
		fmt.Fprintf(os.Stderr, "e2e node memory (RSS of components and pods): %d MiB\n", mem>>20)
	}
	down := time.Now()
	if err := node.Down(context.WithoutCancel(ctx)); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e node down in %s\n", time.Since(down).Round(100*time.Millisecond))
	return code
}

// unavailable is the part of the kit Main found missing; nil once the node is up.
var unavailable *kit.MissingError

// Need ends t through kit.Unavailable when Main could not bring the node up because a part of the
// kit is missing. Every e2e test calls it before using the node.
func Need(t testing.TB) {
	t.Helper()
	if unavailable != nil {
		kit.Need(t, unavailable)
	}
}

// testImages checks the kit and returns the image tarballs every node gets: pause and stand-in
// (built now into dir), CoreDNS and the Flux controllers (from the cache).
func testImages(ctx context.Context, dir string) ([]string, error) {
	if err := CheckKit(); err != nil {
		return nil, err
	}
	v, err := kit.Load()
	if err != nil {
		return nil, err
	}
	d, err := v.Dirs()
	if err != nil {
		return nil, err
	}
	corednsTar := filepath.Join(d.CoreDNS, "coredns.tar")
	if err := kit.CheckFiles("the CoreDNS image", "node-kit", corednsTar); err != nil {
		return nil, err
	}
	out := []string{corednsTar}
	for _, f := range v.Flux {
		p := filepath.Join(d.FluxImages, f.Name+".tar")
		if err := kit.CheckFiles("the Flux controller images", "flux-images", p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	mod, err := images.ModuleDir(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range images.TestPrograms() {
		p, err := g.Build(ctx, mod, dir)
		if err != nil {
			return nil, fmt.Errorf("building the test image %s: %w", g.Tag, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// packageNodeName names the node of this test binary's package after $DOCS_APPLIANCE_E2E_NODE
// (default docs-e2e) and the package (install.test → docs-e2e-install): `make e2e` runs packages
// side by side (go test -p), each on a node of its own.
func packageNodeName() string {
	base := os.Getenv(EnvNodeName)
	if base == "" {
		base = "docs-e2e"
	}
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	if pkg == "" || pkg == "e2e" {
		return base
	}
	return base + "-" + pkg
}
