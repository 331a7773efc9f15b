package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/suitenumerique/docs-appliance/airgap"
	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/status"
)

// Goals from the issue.
const (
	goalSpeedup = 1.5
	goalRSS     = 200 << 20
)

func main() {
	var (
		size  = flag.String("size", "2GiB", "unpacked size of the synthetic bundle (KiB, MiB, GiB suffixes)")
		dir   = flag.String("dir", "", "work folder (default a new folder under $TMPDIR); needs about 3x size free")
		runs  = flag.Int("runs", 3, "timed runs of each side; medians are reported")
		bin   = flag.String("bin", "", "docs-appliance binary to measure (default: this program's own import mode)")
		check = flag.Bool("check", false, "exit 1 when a goal is missed")
		keep  = flag.Bool("keep", false, "keep the work folder")
		child = flag.String("child", "", "internal: run one import or verify (import|verify) and exit")
	)
	flag.Parse()
	if *child != "" {
		os.Exit(runChild(*child, flag.Args()))
	}
	if err := run(*size, *dir, *runs, *bin, *check, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// runChild is the measured import (or verify) process: bundle, state
// folder and public key as arguments.
func runChild(mode string, args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: -child import|verify BUNDLE STATE PUBKEY")
		return 2
	}
	pub, err := airgap.LoadPublicKey(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st := status.New(os.Stdout, status.Plain)
	switch mode {
	case "import":
		_, err = airgap.Import(context.Background(), airgap.ImportOptions{Bundle: args[0], StateDir: args[1], Trust: airgap.Trust{Key: pub}, Status: st})
	case "verify":
		_, err = airgap.Verify(context.Background(), airgap.VerifyOptions{Bundle: args[0], Trust: airgap.Trust{Key: pub}, Status: st})
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("-size %q: use a number with KiB, MiB or GiB", s)
	}
	return int64(n * float64(mult)), nil
}

func run(sizeFlag, dir string, runs int, bin string, check, keep bool) error {
	size, err := parseSize(sizeFlag)
	if err != nil {
		return err
	}
	if size < 64<<20 {
		return fmt.Errorf("-size %s: use at least 64MiB", sizeFlag)
	}
	for _, tool := range []string{"zstd", "tar", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the baseline needs %s: install it (apt-get install -y zstd tar coreutils)", tool)
		}
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "airgap-bench-"); err != nil {
			return err
		}
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	fmt.Printf("synthetic bundle: %s of incompressible files in %s\n", status.HumanBytes(size), dir)
	bundle, pubPath, packTime, err := makeBundle(dir, size)
	if err != nil {
		return fmt.Errorf("making the synthetic bundle: %w", err)
	}
	info, err := os.Stat(bundle)
	if err != nil {
		return err
	}
	fmt.Printf("packed %s into %s in %.1fs (%s/s: hash, zstd, write)\n", status.HumanBytes(size), status.HumanBytes(info.Size()), packTime.Seconds(), status.HumanBytes(int64(float64(size)/packTime.Seconds())))

	importCmd := func(state string) []string {
		if bin != "" {
			return []string{bin, "--state-dir", state, "airgap", "import", bundle, "--key", pubPath}
		}
		return []string{self, "-child", "import", bundle, state, pubPath}
	}
	verifyCmd := func() []string {
		if bin != "" {
			return []string{bin, "airgap", "verify", bundle, "--key", pubPath}
		}
		return []string{self, "-child", "verify", bundle, dir, pubPath}
	}

	// Both sides read the bundle from the page cache.
	if err := readAll(bundle); err != nil {
		return err
	}
	var base, ours, verify []time.Duration
	var peak, verifyPeak int64
	out := filepath.Join(dir, "out")
	for i := 0; i < runs; i++ {
		// Alternate who goes first, so neither always inherits a warmer machine.
		sides := []string{"baseline", "import"}
		if i%2 == 1 {
			sides = []string{"import", "baseline"}
		}
		for _, side := range sides {
			if err := os.RemoveAll(out); err != nil {
				return err
			}
			// Flush the previous run's dirty pages so each run starts even.
			syscall.Sync()
			switch side {
			case "baseline":
				d, err := baseline(bundle, out)
				if err != nil {
					return fmt.Errorf("baseline: %w", err)
				}
				base = append(base, d)
				fmt.Printf("run %d baseline: %.2fs\n", i+1, d.Seconds())
			case "import":
				d, rss, err := timed(importCmd(out))
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				ours = append(ours, d)
				peak = max(peak, rss)
				fmt.Printf("run %d import:   %.2fs, peak RSS %s\n", i+1, d.Seconds(), status.HumanBytes(rss))
			}
		}
	}
	os.RemoveAll(out)
	for i := 0; i < runs; i++ {
		d, rss, err := timed(verifyCmd())
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		verify = append(verify, d)
		verifyPeak = max(verifyPeak, rss)
	}

	mb, mo, mv := median(base), median(ours), median(verify)
	speedup := mb.Seconds() / mo.Seconds()
	rate := func(d time.Duration) string { return status.HumanBytes(int64(float64(size)/d.Seconds())) + "/s" }
	fmt.Printf("\nbaseline (zstd -dc | tar -x; sha256sum): median %.2fs (%s)\n", mb.Seconds(), rate(mb))
	fmt.Printf("airgap import:                          median %.2fs (%s), peak RSS %s\n", mo.Seconds(), rate(mo), status.HumanBytes(peak))
	fmt.Printf("airgap verify:                          median %.2fs (%s), peak RSS %s\n", mv.Seconds(), rate(mv), status.HumanBytes(verifyPeak))
	fmt.Printf("speedup: %.2fx (goal >= %.1fx), peak RSS %s (goal < %s)\n", speedup, goalSpeedup, status.HumanBytes(peak), status.HumanBytes(goalRSS))
	if check && (speedup < goalSpeedup || peak >= goalRSS) {
		return errors.New("a goal was missed")
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// timed runs argv and returns its wall time and peak resident memory.
func timed(argv []string) (time.Duration, int64, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return d, 0, nil
	}
	return d, ru.Maxrss << 10, nil // Linux reports KiB
}

// baseline is what an operator would do by hand: unpack, then hash every file.
func baseline(bundle, out string) (time.Duration, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	start := time.Now()
	zstd := exec.Command("zstd", "-dc", bundle)
	tar := exec.Command("tar", "-x", "-C", out)
	pipe, err := zstd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	tar.Stdin = pipe
	if err := zstd.Start(); err != nil {
		return 0, err
	}
	if err := tar.Run(); err != nil {
		zstd.Process.Kill()
		zstd.Wait()
		return 0, fmt.Errorf("tar -x: %w", err)
	}
	if err := zstd.Wait(); err != nil {
		return 0, fmt.Errorf("zstd -dc: %w", err)
	}
	var files []string
	err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	sum := exec.Command("sha256sum", files...)
	sum.Stdout = io.Discard
	if err := sum.Run(); err != nil {
		return 0, fmt.Errorf("sha256sum: %w", err)
	}
	return time.Since(start), nil
}

// makeBundle stages incompressible files shaped like a real bundle and
// packs them, signed, with airgap.Pack.
func makeBundle(dir string, size int64) (bundle, pubPath string, packTime time.Duration, err error) {
	staging := filepath.Join(dir, "staging")
	const (
		k3sBinary = 64 << 20
		k3sImages = 192 << 20
		images    = 24
	)
	imageSize := (size - k3sBinary - k3sImages) / images
	if imageSize < 1<<20 {
		imageSize = 1 << 20
	}
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return "", "", 0, err
	}
	src := mrand.NewChaCha8(seed)
	var files []airgap.File
	write := func(p, kind string, n int64, image string) error {
		full := filepath.Join(staging, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		f, err := os.Create(full)
		if err != nil {
			return err
		}
		h := sha256.New()
		if _, err := io.CopyN(io.MultiWriter(f, h), src, n); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		files = append(files, airgap.File{Path: p, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Kind: kind, Image: image, Executable: kind == airgap.KindK3sBinary})
		return nil
	}

	var trainImages []bundles.Image
	for i := 0; i < images; i++ {
		var d [32]byte
		src.Read(d[:])
		trainImages = append(trainImages, bundles.Image{Reference: fmt.Sprintf("registry.example.org/bench/image-%02d:v1.0.0", i), Digest: "sha256:" + hex.EncodeToString(d[:])})
	}
	if err := write(airgap.K3sBinaryPath, airgap.KindK3sBinary, k3sBinary, ""); err != nil {
		return "", "", 0, err
	}
	if err := write(airgap.K3sImagesPath("amd64"), airgap.KindK3sImages, k3sImages, ""); err != nil {
		return "", "", 0, err
	}
	for _, im := range trainImages {
		if err := write(airgap.ImagePath(im), airgap.KindImage, imageSize, im.Pinned()); err != nil {
			return "", "", 0, err
		}
	}
	chart := bundles.Chart{Name: "docs", Repository: "https://charts.example.org", Version: "1.0.0"}
	if err := write(airgap.ChartPath(chart), airgap.KindChart, 64<<10, ""); err != nil {
		return "", "", 0, err
	}
	chart.SHA256 = files[len(files)-1].SHA256
	if err := write("flux/gotk-components.yaml", airgap.KindFlux, 512<<10, ""); err != nil {
		return "", "", 0, err
	}
	train := bundles.Train{
		Name: "2099.01",
		K3s: bundles.K3s{Version: "v1.35.2+k3s1", Artifacts: map[string]bundles.K3sArtifacts{"amd64": {
			BinaryURL: "https://example.org/k3s", BinarySHA256: files[0].SHA256,
			AirgapImagesURL: "https://example.org/k3s-airgap-images-amd64.tar.zst", AirgapImagesSHA256: files[1].SHA256,
		}}},
		Kubernetes: bundles.KubernetesRange{MinVersion: "1.33", MaxVersion: "1.36"},
		Flux:       bundles.Flux{Version: "v2.9.5", Controllers: map[string]string{"source-controller": "v1.9.5", "kustomize-controller": "v1.9.5", "notification-controller": "v1.9.4"}},
		Docs:       bundles.Docs{Version: "v5.4.1"},
		Charts:     []bundles.Chart{chart},
		Images:     trainImages,
	}
	keyBase := filepath.Join(dir, "bench")
	if _, err := airgap.GenerateKeyFiles(keyBase+".key", keyBase+".pub"); err != nil {
		return "", "", 0, err
	}
	priv, err := airgap.LoadPrivateKey(keyBase + ".key")
	if err != nil {
		return "", "", 0, err
	}
	bundle = filepath.Join(dir, airgap.FileName(train.Name, "amd64"))
	start := time.Now()
	_, err = airgap.Pack(context.Background(), airgap.PackOptions{
		Dir: staging, Out: bundle, Key: priv,
		Manifest: &airgap.Manifest{FormatVersion: airgap.FormatVersion, Train: train.Name, Arch: "amd64", Created: time.Now().UTC().Truncate(time.Second), Builder: "airgap bench", Spec: train, Files: files},
	})
	packTime = time.Since(start)
	if err != nil {
		return "", "", 0, err
	}
	if err := os.RemoveAll(staging); err != nil {
		return "", "", 0, err
	}
	return bundle, keyBase + ".pub", packTime, nil
}
