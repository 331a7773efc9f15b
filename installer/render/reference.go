package render

import (
	"context"
	"fmt"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// The shared base is the render of a reference appliance: the train's, whatever the
// environment. It depends on the train and this binary only, so every environment on the
// same train computes the same bytes and none of them owns it more than another.

// ReferenceProfile is the profile of the reference render: one that runs every optional
// component, so the base holds every folder any environment's overlay may build on.
const ReferenceProfile = "single"

// referenceConfig is the reference appliance: the built-in defaults (embedded identity and
// storage, ACME, the in-cluster git server) on names that no real appliance uses.
func referenceConfig(train string) *config.Config {
	c := &config.Config{Train: train, Domain: "docs.base.invalid", AdminEmail: "admin@base.invalid", Environment: BaseDir}
	c.ApplyDefaults()
	return c
}

// referenceSecrets gives every secret the same placeholder: the base holds no Secret (they
// are the environment's), only objects that may carry a secret's fingerprint, which then
// differ from the environment's and stay in its overlay.
type referenceSecrets struct{}

func (referenceSecrets) Get(string) (string, bool) { return "reference-render-not-a-secret", true }

// referenceUnits renders the reference appliance of o's train with o's charts.
func referenceUnits(ctx context.Context, o Options) ([]unit, error) {
	p, err := profiles.Get(ReferenceProfile)
	if err != nil {
		return nil, fmt.Errorf("rendering the shared base: %w", err)
	}
	if !p.Components.Observability || !p.Components.Policy {
		return nil, fmt.Errorf("rendering the shared base: profile %s does not run every optional component", ReferenceProfile)
	}
	ref := Options{
		Config: referenceConfig(o.Config.Train), Train: o.Train, Profile: p, Charts: o.Charts,
		Secrets: referenceSecrets{}, Recipients: o.Recipients,
		AllowMissingCharts: o.AllowMissingCharts, CollectUnpinned: true,
	}
	r := newRenderer(ref)
	if err := r.run(ctx); err != nil {
		return nil, fmt.Errorf("rendering the shared base (train %s): %w", o.Train.Name, err)
	}
	return r.units(), nil
}
