package gitops

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"

	"filippo.io/age"
	"github.com/fluxcd/pkg/git"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/render"
)

// ConfigFile is the repository's record of the config an environment was rendered from (no
// secrets), environments/<env>/appliance.yaml: commit diffs then show what the operator changed
// beside what it changed in the manifests.
func ConfigFile(env string) string { return render.ConfigRecord(environment(env)) }

// legacyConfigFile is where the layout before environments recorded the config.
const legacyConfigFile = "appliance.yaml"

const configHeader = "# The appliance config this repository was rendered from, written by docs-appliance.\n" +
	"# Editing it here changes nothing: change the config and run `docs-appliance install` again.\n"

// PublishInput is one render to publish.
type PublishInput struct {
	Result     *render.Result
	Identity   *age.X25519Identity
	Recipients []string
	Config     *config.Config
	// Version is the docs-appliance version, for the commit body.
	Version string
	Author  git.Signature
	// Subject, when set, is the commit's first line (upgrade names its hop there); Preamble
	// opens the body. The usual subject then follows in the body.
	Subject, Preamble string
}

// Published says what Publish did.
type Published struct {
	// Head is the branch's commit after publishing.
	Head string
	// Committed is false when the repository already held this render.
	Committed bool
	Subject   string
	Report    *render.WriteReport
}

// Publish writes the render into the working copy (only changed files; a Secret whose values did
// not change keeps its encrypted bytes), records the config, and commits and pushes when
// something changed, with a message that says what changed and why.
func Publish(ctx context.Context, repo *Repo, in PublishInput) (*Published, error) {
	s, err := Stage(repo, in)
	if err != nil {
		return nil, err
	}
	return s.Commit(ctx)
}

// RecordedConfig is the content of ConfigFile for cfg, as Stage commits it.
func RecordedConfig(cfg *config.Config) ([]byte, error) {
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding the config: %w", err)
	}
	return append([]byte(configHeader), data...), nil
}

// Staged is a render written into the working copy, not committed yet.
type Staged struct {
	repo          *Repo
	in            PublishInput
	prevHead      string
	subject, body string
	report        *render.WriteReport
	// Changed is false when the head already holds this render and config.
	Changed bool
}

// Stage writes the render and the config into the working copy and says whether the head
// already holds them. Nothing leaves the working copy.
func Stage(repo *Repo, in PublishInput) (*Staged, error) {
	prevHead, err := repo.Head()
	if err != nil {
		return nil, err
	}
	env := environment(in.Config.Environment)
	prevConfig, err := repo.ReadFile(ConfigFile(env))
	if err == nil && prevConfig == nil && env == config.DefaultEnvironment {
		// The layout before environments was the default environment's.
		prevConfig, err = repo.ReadFile(legacyConfigFile)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the recorded config: %w", err)
	}
	rep, err := render.Write(repo.Dir(), in.Result, in.Identity, in.Recipients)
	if err != nil {
		return nil, err
	}
	cfgYAML, err := RecordedConfig(in.Config)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(repo.Dir(), filepath.FromSlash(ConfigFile(env))), cfgYAML, 0o644); err != nil {
		return nil, fmt.Errorf("recording the config: %w", err)
	}
	clean := false
	if prevHead != "" {
		if clean, err = repo.Clean(); err != nil {
			return nil, err
		}
	}
	subject, body := commitMessage(prevHead == "", prevConfig, cfgYAML, in, rep)
	return &Staged{repo: repo, in: in, prevHead: prevHead, subject: subject, body: body, report: rep, Changed: !clean}, nil
}

// Commit commits and pushes the staged render when it changed anything.
func (s *Staged) Commit(ctx context.Context) (*Published, error) {
	if !s.Changed {
		return &Published{Head: s.prevHead, Report: s.report}, nil
	}
	hash, err := s.repo.Commit(s.in.Author, s.subject+"\n\n"+s.body)
	if errors.Is(err, ErrNothingToCommit) {
		return &Published{Head: s.prevHead, Report: s.report}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := s.repo.Push(ctx); err != nil {
		return nil, err
	}
	return &Published{Head: hash, Committed: true, Subject: s.subject, Report: s.report}, nil
}

// commitMessage says what changed and why: first install, a move to another train, the config
// fields the operator changed, or (same config and train) a new render of them.
func commitMessage(first bool, prevConfig, newConfig []byte, in PublishInput, rep *render.WriteReport) (string, string) {
	cfg := in.Config
	env := environment(cfg.Environment)
	var subject string
	changed := configChanges(prevConfig, newConfig)
	prevTrain := fieldOf(prevConfig, "train")
	switch {
	case first || len(prevConfig) == 0:
		subject = fmt.Sprintf("docs-appliance %s: install train %s (profile %s) for %s", env, cfg.Train, cfg.Profile, cfg.Domain)
	case prevTrain != "" && prevTrain != cfg.Train:
		subject = fmt.Sprintf("docs-appliance %s: move from train %s to %s", env, prevTrain, cfg.Train)
	case len(changed) > 0:
		subject = fmt.Sprintf("docs-appliance %s: render train %s (config change: %s)", env, cfg.Train, joinLimited(changed, 6))
	default:
		subject = fmt.Sprintf("docs-appliance %s: render train %s again (same config; new render or new secret values)", env, cfg.Train)
	}
	var b strings.Builder
	if in.Subject != "" {
		if in.Preamble != "" {
			b.WriteString(strings.TrimRight(in.Preamble, "\n") + "\n\n")
		}
		b.WriteString(subject + "\n\n")
		subject = in.Subject
	}
	if rep.BaseChanged() && len(rep.SharedWith) > 0 {
		fmt.Fprintf(&b, "The shared base changed (%d files): environments %s build on it too and change with it.\n\n",
			len(rep.Base), strings.Join(rep.SharedWith, ", "))
	}
	if len(changed) > 0 && !first && len(prevConfig) > 0 {
		fmt.Fprintf(&b, "Config fields changed: %s.\n\n", strings.Join(changed, ", "))
	}
	files := append([]string(nil), rep.Written...)
	sort.Strings(files)
	fmt.Fprintf(&b, "Files written: %d, removed: %d, unchanged: %d.\n", len(rep.Written), len(rep.Removed), rep.Unchanged)
	const max = 40
	for i, f := range files {
		if i == max {
			fmt.Fprintf(&b, "  … and %d more\n", len(files)-max)
			break
		}
		fmt.Fprintf(&b, "  M %s\n", f)
	}
	for i, f := range rep.Removed {
		if i == max {
			fmt.Fprintf(&b, "  … and %d more removed\n", len(rep.Removed)-max)
			break
		}
		fmt.Fprintf(&b, "  D %s\n", f)
	}
	fmt.Fprintf(&b, "\nRendered by docs-appliance %s. Secrets are SOPS-encrypted; values never appear here.\n", in.Version)
	return subject, b.String()
}

func joinLimited(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

// configChanges lists the dotted paths whose values differ between two config files.
func configChanges(a, b []byte) []string {
	var ma, mb map[string]any
	_ = yaml.Unmarshal(a, &ma)
	_ = yaml.Unmarshal(b, &mb)
	var out []string
	diffPaths("", ma, mb, &out)
	sort.Strings(out)
	return out
}

func diffPaths(prefix string, a, b map[string]any, out *[]string) {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		va, vb := a[k], b[k]
		ma, oka := va.(map[string]any)
		mb, okb := vb.(map[string]any)
		if oka || okb {
			diffPaths(p, ma, mb, out)
			continue
		}
		if !reflect.DeepEqual(va, vb) {
			*out = append(*out, p)
		}
	}
}

func fieldOf(configYAML []byte, key string) string {
	var m map[string]any
	if yaml.Unmarshal(configYAML, &m) != nil {
		return ""
	}
	s, _ := m[key].(string)
	return s
}
