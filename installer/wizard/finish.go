package wizard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"filippo.io/age"

	"github.com/suitenumerique/docs-appliance/bundles"
	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
	"github.com/suitenumerique/docs-appliance/profiles"
)

func (w *Wizard) askProfile(_ context.Context, c *config.Config) error {
	names := profiles.Names()
	desc := map[string]string{}
	for _, n := range names {
		p, err := profiles.Get(n)
		if err != nil {
			return fmt.Errorf("reading profile %s: %w", n, err)
		}
		desc[n] = w.Machine.Describe(p)
	}
	def := c.Profile
	if start := config.Default().Profile; def == start || def == "" {
		// The default was not chosen by anyone: offer what fits this machine.
		if best := w.Machine.bestProfile(); best != "" {
			def = best
		}
	}
	if m := w.Machine; m.CPUs > 0 {
		w.say(fmt.Sprintf("This machine has %d CPUs, %.1f GiB of memory and %.0f GiB free under %s.", m.CPUs, m.MemoryGiB, m.DiskFreeGiB, m.DiskPath))
	}
	for {
		if err := w.selectOne(&c.Profile, "Which size fits your use?", names, def, desc,
			"single-small: a team of up to ~50; single: a larger organisation on one server; ha: three servers that survive the loss of one."); err != nil {
			return err
		}
		p, _ := profiles.Get(c.Profile)
		short := w.Machine.Shortfalls(p)
		if len(short) == 0 {
			return nil
		}
		anyway := false
		if err := w.confirm(&anyway, fmt.Sprintf("This machine is below %s's minimums: %s. Preflight will stop the install unless told to ignore them. Choose it anyway?", c.Profile, strings.Join(short, ", ")), false,
			"Smaller machines run out of memory under load; choose a smaller profile or a larger machine."); err != nil {
			return err
		}
		if anyway {
			return nil
		}
		def = c.Profile
	}
}

func (w *Wizard) askRecipients(_ context.Context, c *config.Config) error {
	list := strings.Join(c.AgeRecipients, ", ")
	if err := w.input(&list, "Your age public key(s), comma-separated (optional)", list,
		"The repository's secrets are encrypted for the appliance's key and for these, so you can always decrypt them. Give the output of `age-keygen -y KEYFILE` (age1...), never a private key.",
		func(s string) error {
			for _, r := range splitList(s) {
				if _, err := age.ParseX25519Recipient(r); err != nil {
					return fmt.Errorf("%q is not an age public key (age1...)", r)
				}
			}
			return nil
		}); err != nil {
		return err
	}
	c.AgeRecipients = splitList(list)
	return nil
}

// Run asks every question — starting from the answers saved at configPath
// when the file exists — then shows the answers, and on the operator's
// word saves them: configPath (0600) and the given secrets into the
// encrypted store in stateDir (generated secrets are made there too). The
// saved config is returned; a later `install --config configPath` runs
// without questions.
func (w *Wizard) Run(ctx context.Context, configPath, stateDir string) (*config.Config, error) {
	cat, err := bundles.LoadEmbedded()
	if err != nil {
		return nil, fmt.Errorf("loading release trains: %w", err)
	}
	var start *config.Config
	if _, err := os.Stat(configPath); err == nil {
		if start, err = config.Load(configPath); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", configPath, err)
	}
	// Only the operator's own values are offered to keep: a generated one
	// (the embedded Keycloak's client secret) is no answer for an external
	// service.
	origin := func(string) config.SecretOrigin { return config.SecretMissing }
	if w.Stored == nil {
		existing, err := secrets.OpenStoreReadOnly(stateDir)
		if err != nil {
			return nil, fmt.Errorf("opening the state folder %s: %w", stateDir, err)
		}
		if start != nil {
			last := *start
			if last.Resolve(nil) == nil {
				existing.ResolveUnrecorded(&last)
			}
		}
		w.Stored, origin = existing.Given, existing.Origin
	}
	ans, err := w.Ask(ctx, start)
	if err != nil {
		return nil, err
	}
	c := ans.Config
	if c.Train == "" {
		c.Train = cat.Latest().Name
	}
	have := func(name string) config.SecretOrigin {
		_, ok := ans.Secrets[name]
		if !ok && w.Stored != nil {
			_, ok = w.Stored(name)
		}
		if ok {
			return config.SecretGiven
		}
		return origin(name)
	}
	if err := c.Validate(cat, have); err != nil {
		return nil, fmt.Errorf("checking the answers: %w", err)
	}
	text, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	w.say("")
	w.say("── Your answers (secrets are not shown)")
	w.say(strings.TrimRight(string(text), "\n"))
	var names []string
	for n := range ans.Secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		w.say("secrets given: " + strings.Join(names, ", "))
	}
	save := true
	if err := w.confirm(&save, "Save these answers to "+configPath+"?", true, "The secrets go, encrypted, into "+stateDir+"."); err != nil {
		return nil, err
	}
	if !save {
		return nil, errors.New("the answers were not saved (the operator declined)")
	}
	store, err := Save(ans, configPath, stateDir)
	if err != nil {
		return nil, err
	}
	w.ok("saved %s and the secrets (encrypted) in %s", configPath, stateDir)
	if store.KeyCreated {
		w.warn("a new age key was made at " + store.KeyPath() + ": back it up somewhere safe, it decrypts every secret of this appliance")
	}
	w.say("The next run needs no questions: docs-appliance install --config " + configPath)
	return c, nil
}

// Save writes the answers: the config to configPath (0600, atomically)
// and the given secrets into the encrypted store in stateDir, where the
// generated ones the config needs are made too. It returns the store.
func Save(ans *Answers, configPath, stateDir string) (*secrets.Store, error) {
	store, err := secrets.OpenStore(stateDir)
	if err != nil {
		return nil, fmt.Errorf("opening the state folder %s: %w", stateDir, err)
	}
	for name, v := range ans.Secrets {
		store.Set(name, v)
	}
	if _, err := store.Ensure(ans.Config.RequiredSecrets()); err != nil {
		return nil, fmt.Errorf("generating secrets: %w", err)
	}
	if err := store.Save(); err != nil {
		return nil, err
	}
	if err := ans.Config.Save(configPath); err != nil {
		return nil, fmt.Errorf("saving the answers: %w", err)
	}
	return store, nil
}
