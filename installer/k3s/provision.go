package k3s

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/status"
	"github.com/suitenumerique/docs-appliance/installer/steps"
)

// provisioner carries a run: the options with their defaults, the status, and what the steps
// learn from the host for the steps after them.
type provisioner struct {
	Options
	st      *status.Status
	art     artifacts
	systemd host.Systemd
	// node is the name of the node to wait for.
	node string
	// start is decided by the start step's check and carried out by its run.
	start startPlan
}

// step is one thing Provision does. check looks at the host and returns why there is nothing to
// do, or "" when there is work; it changes nothing, so Plan can run it for a dry run.
type step struct {
	id      string
	name    func(p *provisioner) string
	check   func(ctx context.Context, p *provisioner) (string, error)
	run     func(ctx context.Context, p *provisioner) error
	timeout func(p *provisioner) time.Duration
}

// Deadlines of the steps: a download of k3s or its images from a slow mirror gets long, a file
// write does not; the wait gets Options.Timeout.
const (
	downloadDeadline = 20 * time.Minute
	fileDeadline     = time.Minute
	startDeadline    = 5 * time.Minute
)

func fixed(d time.Duration) func(*provisioner) time.Duration {
	return func(*provisioner) time.Duration { return d }
}

func stepList() []step {
	return []step{
		{id: "k3s-binary", name: func(p *provisioner) string { return "Installing k3s " + p.Train.K3s.Version }, check: checkBinary, run: runBinary, timeout: fixed(downloadDeadline)},
		{id: "k3s-images", name: func(*provisioner) string { return "Placing images for k3s to import" }, check: checkImages, run: runImages, timeout: fixed(downloadDeadline)},
		{id: "k3s-config", name: func(*provisioner) string { return "Writing the k3s configuration" }, check: checkConfig, run: runConfig, timeout: fixed(fileDeadline)},
		{id: "k3s-service", name: func(*provisioner) string { return "Writing the k3s service" }, check: checkService, run: runService, timeout: fixed(fileDeadline)},
		{id: "k3s-start", name: func(p *provisioner) string { return p.start.title() }, check: checkStart, run: runStart, timeout: fixed(startDeadline)},
		{id: "k3s-ready", name: func(*provisioner) string { return "Waiting for the node and core pods to be ready" }, check: nil, run: runWait,
			timeout: func(p *provisioner) time.Duration { return p.Timeout + time.Minute }},
		{id: "k3s-kubeconfig", name: func(*provisioner) string { return "Keeping the kubeconfig for the CLI" }, check: checkKeepKubeconfig, run: runKeepKubeconfig, timeout: fixed(fileDeadline)},
	}
}

// stepsFor drops what an agent has not: k3s writes no admin kubeconfig on an agent.
func stepsFor(o *Options) []step {
	var out []step
	for _, s := range stepList() {
		if o.agent() && s.id == "k3s-kubeconfig" {
			continue
		}
		out = append(out, s)
	}
	return out
}

func newProvisioner(o Options, st *status.Status) (*provisioner, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if st == nil {
		st = status.Discard()
	}
	p := &provisioner{Options: o, st: st, art: o.artifacts(), systemd: host.Systemd{Runner: o.Runner, Root: o.Root}, node: o.NodeName}
	if p.node == "" {
		// k3s names the node after the host by itself; config.yaml stays free of it.
		name, err := o.Root.Hostname()
		if err != nil {
			return nil, fmt.Errorf("k3s: %w (or give the node name)", err)
		}
		p.node = strings.ToLower(name)
	}
	return p, nil
}

// Steps are Provision's steps on the step engine, for a command that runs them in its own list
// (install): each checks the host before it acts, so a killed run resumes. Bad options are
// refused here, before anything changes.
func Steps(o Options) (*Provisioning, error) {
	p, err := newProvisioner(o, nil)
	if err != nil {
		return nil, err
	}
	var out []steps.Step
	for _, s := range stepsFor(&p.Options) {
		s := s
		f := &steps.Func{
			Name:      s.id,
			TitleFunc: func() string { return s.name(p) },
			RunFunc: func(ctx context.Context, st *status.Status) error {
				p.st = st
				return s.run(ctx, p)
			},
			Deadline: s.timeout(p),
		}
		if s.check != nil {
			f.CheckFunc = func(ctx context.Context) (string, error) { return s.check(ctx, p) }
		}
		if s.id == "k3s-binary" || s.id == "k3s-images" {
			f.Remote = p.art.binaryURL
			if p.ArtifactsDir != "" {
				f.Remote = ""
			}
		}
		out = append(out, f)
	}
	return &Provisioning{Steps: out, p: p}, nil
}

// Provisioning is Provision's steps and what they learn about the host.
type Provisioning struct {
	Steps []steps.Step
	p     *provisioner
}

// Provision installs or converges k3s on the host, reporting a status line per step: steps with
// nothing to do say why and are skipped. Bad options are refused before anything changes.
func Provision(ctx context.Context, o Options, st *status.Status) error {
	pv, err := Steps(o)
	if err != nil {
		return err
	}
	if st == nil {
		st = status.Discard()
	}
	res, err := steps.Run(ctx, st, pv.Steps)
	if err != nil {
		return err
	}
	pv.Summarize(st, res)
	return nil
}

// Summarize reports what the k3s steps of a run did.
func (pv *Provisioning) Summarize(st *status.Status, res []steps.Result) {
	ran, skipped := 0, 0
	for _, r := range res {
		switch {
		case !strings.HasPrefix(r.ID, "k3s-"):
		case r.Outcome == steps.Ran:
			ran++
		case r.Outcome == steps.Skipped:
			skipped++
		}
	}
	st.Info("k3s %s is ready on node %s (%d step(s) done, %d already in place); the CLI finds its kubeconfig at %s",
		pv.p.Train.K3s.Version, pv.p.node, ran, skipped, StateKubeconfig(pv.p.StateDir))
}

// Planned is what Provision would do in one step.
type Planned struct {
	Step string `json:"step"`
	// Skip says why the step has nothing to do; empty when it would run.
	Skip string `json:"skip,omitempty"`
}

// Plan says what Provision would do, without changing the host. It reads files and asks systemd
// whether k3s runs; the runner may be a host.Recorder to ask nothing.
func Plan(ctx context.Context, o Options) ([]Planned, error) {
	pv, err := Steps(o)
	if err != nil {
		return nil, err
	}
	var out []Planned
	for _, s := range pv.Steps {
		why, err := s.Check(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, Planned{Step: s.Title(), Skip: why})
	}
	return out, nil
}

// --- binary ---

func checkBinary(_ context.Context, p *provisioner) (string, error) {
	if p.art.binarySHA256 == "" {
		return "", nil // unpinned: only the copy can tell
	}
	if cur, err := p.Root.SHA256File(BinaryPath); err != nil || cur != p.art.binarySHA256 {
		return "", nil
	}
	if st, err := p.Root.Lstat(BinaryPath); err != nil || st.Mode().Perm() != 0o755 {
		return "", nil
	}
	if len(p.missingTools()) > 0 {
		return "", nil
	}
	return fmt.Sprintf("k3s %s is in place (sha256 verified)", p.Train.K3s.Version), nil
}

func runBinary(ctx context.Context, p *provisioner) error {
	if _, err := p.place(ctx, BinaryPath, p.art.binaryFile, p.art.binaryURL, p.art.binarySHA256, 0o755); err != nil {
		return fmt.Errorf("installing the k3s binary: %w", err)
	}
	for _, t := range p.missingTools() {
		if _, err := p.Root.Symlink(BinaryPath, t); err != nil {
			return err
		}
	}
	return nil
}

// missingTools are the kubectl/crictl/ctr links still to make. A program or link of that name
// that is not ours is the operator's and is left alone.
func (p *provisioner) missingTools() []string {
	var out []string
	for _, t := range Tools {
		if target, err := p.Root.Readlink(t); err == nil && target == BinaryPath {
			continue
		}
		if !p.Root.Exists(t) {
			out = append(out, t)
		}
	}
	return out
}

// --- images ---

// imageFile is one archive to place in agent/images.
type imageFile struct {
	name, file, url, sha string
}

func (p *provisioner) imageFiles() ([]imageFile, error) {
	files := []imageFile{{name: p.art.imagesName, file: p.art.imagesFile, url: p.art.imagesURL, sha: p.art.imagesSHA256}}
	if p.ArtifactsDir == "" {
		return files, nil
	}
	dir := path.Join(p.ArtifactsDir, "images")
	entries, err := p.Root.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return files, nil
		}
		return nil, fmt.Errorf("listing the bundle's images: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && (strings.HasSuffix(n, ".tar") || strings.HasSuffix(n, ".tar.zst") || strings.HasSuffix(n, ".tar.gz")) {
			files = append(files, imageFile{name: n, file: path.Join(dir, n)})
		}
	}
	sort.Slice(files[1:], func(i, j int) bool { return files[1+i].name < files[1+j].name })
	return files, nil
}

// imagePlaced reports whether dest already holds the archive: by its pinned sha256, or, for a
// bundle's image tar (verified when the bundle was imported), by being the same file or having
// the same content.
func (p *provisioner) imagePlaced(f imageFile) bool {
	dest := path.Join(ImagesDir, f.name)
	if f.sha != "" {
		cur, err := p.Root.SHA256File(dest)
		return err == nil && cur == f.sha
	}
	if f.file == "" {
		return false
	}
	a, err1 := os.Stat(p.Root.Path(dest))
	b, err2 := os.Stat(p.Root.Path(f.file))
	if err1 != nil || err2 != nil {
		return false
	}
	if os.SameFile(a, b) {
		return true
	}
	if a.Size() != b.Size() {
		return false
	}
	s1, err1 := p.Root.SHA256File(dest)
	s2, err2 := p.Root.SHA256File(f.file)
	return err1 == nil && err2 == nil && s1 == s2
}

func checkImages(_ context.Context, p *provisioner) (string, error) {
	files, err := p.imageFiles()
	if err != nil {
		return "", err
	}
	for _, f := range files {
		if !p.imagePlaced(f) {
			return "", nil
		}
	}
	return fmt.Sprintf("%d image archive(s) in place", len(files)), nil
}

func runImages(ctx context.Context, p *provisioner) error {
	files, err := p.imageFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		if p.imagePlaced(f) {
			continue
		}
		dest := path.Join(ImagesDir, f.name)
		// A bundle's image tar is hard-linked when it can be: no copy of gigabytes on one disk.
		if f.sha == "" && f.file != "" {
			if err := p.Root.MkdirAll(ImagesDir, 0o700); err != nil {
				return err
			}
			tmp := dest + ".link-tmp"
			_ = os.Remove(p.Root.Path(tmp))
			if err := os.Link(p.Root.Path(f.file), p.Root.Path(tmp)); err == nil {
				if err := os.Rename(p.Root.Path(tmp), p.Root.Path(dest)); err != nil {
					return fmt.Errorf("placing %s: %w", dest, err)
				}
				continue
			}
		}
		if _, err := p.place(ctx, dest, f.file, f.url, f.sha, 0o600); err != nil {
			return fmt.Errorf("placing %s: %w", f.name, err)
		}
	}
	return nil
}

// --- configuration ---

func (p *provisioner) configFiles() (map[string][]byte, error) {
	cfg, err := ConfigYAML(p.Options)
	if err != nil {
		return nil, err
	}
	reg, err := RegistriesYAML(p.Options)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{ConfigPath: cfg, RegistriesPath: reg}, nil
}

// serviceFiles are the unit, its environment and, on a joining host, the token file (0600,
// like the environment).
func (p *provisioner) serviceFiles(token string) (unit map[string][]byte, secret map[string][]byte) {
	unit = map[string][]byte{p.unitPath(): p.unitFile()}
	if p.Join != nil {
		return unit, map[string][]byte{p.envPath(): EnvFile(""), TokenPath: []byte(p.Join.Token + "\n")}
	}
	return unit, map[string][]byte{p.envPath(): EnvFile(token)}
}

// upToDate reports whether every file holds its content with mode.
func (p *provisioner) upToDate(files map[string][]byte, mode fs.FileMode) bool {
	for path, want := range files {
		cur, err := p.Root.ReadFile(path)
		if err != nil || string(cur) != string(want) {
			return false
		}
		if st, err := p.Root.Lstat(path); err != nil || st.Mode().Perm() != mode {
			return false
		}
	}
	return true
}

func checkConfig(_ context.Context, p *provisioner) (string, error) {
	files, err := p.configFiles()
	if err != nil {
		return "", err
	}
	if st, err := p.Root.Lstat(VolumesDir(p.StateDir)); err != nil || !st.IsDir() {
		return "", nil
	}
	if p.upToDate(files, 0o600) {
		return "config.yaml and registries.yaml are up to date", nil
	}
	return "", nil
}

func runConfig(_ context.Context, p *provisioner) error {
	files, err := p.configFiles()
	if err != nil {
		return err
	}
	if err := p.Root.MkdirAll(ConfigDir, 0o755); err != nil {
		return err
	}
	// k3s's local-path provisioner would make it too, but 0755; the volumes hold the database.
	if err := p.Root.MkdirAll(VolumesDir(p.StateDir), 0o700); err != nil {
		return err
	}
	for _, path := range []string{ConfigPath, RegistriesPath} {
		if _, err := p.Root.WriteFile(path, files[path], 0o600); err != nil {
			return fmt.Errorf("writing k3s config: %w", err)
		}
	}
	return nil
}

// --- service ---

// token returns the cluster token already on the host, or a new random one.
func (p *provisioner) token() (string, error) {
	if env, err := p.Root.ReadFile(EnvPath); err == nil {
		if t := tokenFrom(env); t != "" {
			return t, nil
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating the cluster token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func checkService(_ context.Context, p *provisioner) (string, error) {
	tok := ""
	if p.Join == nil {
		env, err := p.Root.ReadFile(EnvPath)
		if err != nil || tokenFrom(env) == "" {
			return "", nil
		}
		tok = tokenFrom(env)
	}
	unit, secret := p.serviceFiles(tok)
	if p.upToDate(unit, 0o644) && p.upToDate(secret, 0o600) {
		return "the unit and its environment are up to date", nil
	}
	return "", nil
}

func runService(_ context.Context, p *provisioner) error {
	tok := ""
	if p.Join == nil {
		var err error
		if tok, err = p.token(); err != nil {
			return err
		}
	}
	unit, secret := p.serviceFiles(tok)
	for path, data := range secret {
		if _, err := p.Root.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("writing the k3s service environment: %w", err)
		}
	}
	for path, data := range unit {
		if _, err := p.Root.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("writing the k3s service: %w", err)
		}
	}
	return nil
}

// --- start ---

// Applied records what k3s was last started with: the sha256 of each file it reads at start.
type Applied struct {
	Files map[string]string `json:"files"`
}

// fingerprint hashes what k3s reads at start, as it is on the host now.
func (p *provisioner) fingerprint() (Applied, error) {
	a := Applied{Files: map[string]string{}}
	for _, f := range p.startFiles() {
		sum, err := p.Root.SHA256File(f)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return a, fmt.Errorf("hashing %s: %w", f, err)
		}
		a.Files[f] = sum
	}
	// Image archives are large: their names, sizes and times stand for their content.
	entries, err := p.Root.ReadDir(ImagesDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return a, fmt.Errorf("listing %s: %w", ImagesDir, err)
	}
	h := sha256.New()
	for _, e := range entries {
		if info, err := e.Info(); err == nil && !strings.HasPrefix(e.Name(), ".") {
			fmt.Fprintf(h, "%s %d %d\n", e.Name(), info.Size(), info.ModTime().UnixNano())
		}
	}
	a.Files[ImagesDir] = hex.EncodeToString(h.Sum(nil))
	return a, nil
}

// startFiles are the files k3s reads when it starts. TokenPath is absent on a first server: its
// hash is "" before and after, so adding it to the list restarts nothing.
func (p *provisioner) startFiles() []string {
	return []string{BinaryPath, ConfigPath, RegistriesPath, p.unitPath(), p.envPath(), TokenPath}
}

func (p *provisioner) recorded() (Applied, bool) {
	var a Applied
	data, err := p.Root.ReadFile(AppliedPath)
	if err != nil || json.Unmarshal(data, &a) != nil || a.Files == nil {
		return Applied{}, false
	}
	return a, true
}

// startPlan is what the start step does.
type startPlan struct {
	reload, enable, restart bool
	changed                 []string
	want                    Applied
}

func (s startPlan) title() string {
	if s.restart {
		return "Restarting k3s (" + strings.Join(s.changed, ", ") + " changed)"
	}
	return "Starting k3s"
}

func checkStart(ctx context.Context, p *provisioner) (string, error) {
	want, err := p.fingerprint()
	if err != nil {
		return "", err
	}
	rec, had := p.recorded()
	var changed []string
	for _, f := range append(p.startFiles(), ImagesDir) {
		if !had || rec.Files[f] != want.Files[f] {
			changed = append(changed, path.Base(f))
		}
	}
	unitChanged := !had || rec.Files[p.unitPath()] != want.Files[p.unitPath()]
	active, _, err := p.systemd.IsActive(ctx, p.unit())
	if err != nil {
		return "", err
	}
	enabled := p.systemd.Enabled(p.unit())
	p.start = startPlan{want: want, changed: changed, reload: unitChanged}
	switch {
	case !active || !enabled:
		p.start.enable = true
		p.start.restart = active && len(changed) > 0
	case len(changed) > 0:
		p.start.restart = true
	default:
		return "k3s runs with this configuration", nil
	}
	return "", nil
}

func runStart(ctx context.Context, p *provisioner) error {
	s := p.start
	if s.reload {
		if err := p.systemd.DaemonReload(ctx); err != nil {
			return err
		}
	}
	if s.enable {
		if err := p.systemd.EnableNow(ctx, p.unit()); err != nil {
			return err
		}
	}
	if s.restart {
		if err := p.systemd.Restart(ctx, p.unit()); err != nil {
			return err
		}
	}
	data, err := json.MarshalIndent(s.want, "", "  ")
	if err != nil {
		return err
	}
	if _, err := p.Root.WriteFile(AppliedPath, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("recording what k3s runs with: %w", err)
	}
	return nil
}
