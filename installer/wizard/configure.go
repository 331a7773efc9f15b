package wizard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/AlecAivazis/survey/v2/terminal"
	"golang.org/x/term"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/host"
	"github.com/suitenumerique/docs-appliance/installer/probe"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// Configure is the configure step as an action: walk the operator through
// the answers and save them, or — NonInteractive — never prompt and check
// the saved answers, failing with every missing or bad field, then every
// answer a live check refuses.
type Configure struct {
	// ConfigPath is where the answers are read from and saved to; empty
	// is DefaultConfigPath(StateDir).
	ConfigPath string
	// StateDir holds the age key and the encrypted secret store.
	StateDir string
	// Root is the host filesystem root the machine's facts are read under; empty is "/".
	Root host.Root
	// CAFile is a PEM bundle of extra certificate authorities the services' certificates chain to.
	CAFile string
	// ListenAddr is where the reachability proof listens; empty is ":80".
	ListenAddr string
	// NonInteractive never prompts.
	NonInteractive bool
	// In, Out and Err are the terminal; nil means os.Stdin, os.Stdout, os.Stderr.
	In  terminal.FileReader
	Out terminal.FileWriter
	Err io.Writer
	// Checks overrides the live checks (tests); nil builds probe.Live from the fields above.
	Checks Checks

	// Config is the saved (or checked) config after Run.
	Config *config.Config
}

// Run asks and saves, or checks without asking.
func (c *Configure) Run(ctx context.Context) error {
	if c.ConfigPath == "" {
		c.ConfigPath = DefaultConfigPath(c.StateDir)
	}
	if c.In == nil {
		c.In = os.Stdin
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.Err == nil {
		c.Err = os.Stderr
	}
	checks := c.Checks
	if checks == nil {
		live := &probe.Live{ListenAddr: c.ListenAddr}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return fmt.Errorf("reading the CA bundle %s: %w", c.CAFile, err)
			}
			live.CABundle = pem
		}
		checks = live
	}
	if c.NonInteractive {
		return c.check(ctx, checks)
	}
	if !term.IsTerminal(int(c.In.Fd())) {
		return fmt.Errorf("asking the questions: standard input is not a terminal; run in a terminal, or give the answers with --config FILE (and --secret NAME=FILE) and --non-interactive")
	}
	root := c.Root
	if root == "" {
		root = "/"
	}
	machine, err := ReadMachine(root)
	if err != nil {
		fmt.Fprintf(c.Out, "! %v: the profiles are shown without this machine's facts\n", err)
	}
	w := &Wizard{In: c.In, Out: c.Out, Err: c.Err, Checks: checks, Machine: machine}
	cfg, err := w.Run(ctx, c.ConfigPath, c.StateDir)
	if err != nil {
		return err
	}
	c.Config = cfg
	return nil
}

// check validates the saved answers — every field and every needed
// secret at once — then runs the live checks on them.
func (c *Configure) check(ctx context.Context, checks Checks) error {
	if _, err := os.Stat(c.ConfigPath); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking the saved answers: %s does not exist: run `docs-appliance configure` in a terminal, or write it (see examples/appliance.yaml)", c.ConfigPath)
	}
	cfg, err := config.Load(c.ConfigPath)
	if err != nil {
		return err
	}
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		return fmt.Errorf("loading release trains: %w", err)
	}
	if cfg.Train == "" {
		cfg.Train = cat.Latest().Name
	}
	if err := cfg.Resolve(nil); err != nil {
		return err
	}
	store, err := secrets.OpenStoreReadOnly(c.StateDir)
	if err != nil {
		return fmt.Errorf("opening the state folder %s: %w", c.StateDir, err)
	}
	// The saved answers are the config the store was last used with.
	store.ResolveUnrecorded(cfg)
	if err := cfg.Validate(cat, store.Origin); err != nil {
		return err
	}
	// Put in use the value of the origin each secret needs (an issuer's
	// secret kept aside since a switch back to embedded); in memory only.
	if _, err := store.Ensure(cfg.RequiredSecrets()); err != nil {
		return fmt.Errorf("generating secrets: %w", err)
	}
	if err := Verify(ctx, cfg, store.Get, checks); err != nil {
		return err
	}
	c.Config = cfg
	fmt.Fprintf(c.Out, "✓ %s: every answer is valid and every service accepted it\n", c.ConfigPath)
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(c.Out, "! %s\n", w)
	}
	return nil
}
