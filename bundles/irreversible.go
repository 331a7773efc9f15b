package bundles

import (
	"fmt"
	"strconv"
	"strings"
)

// Irreversible is one step of the upgrade into a train that cannot be
// undone by returning the desired state to the previous train: once it ran,
// the way back is a restore of the pre-upgrade backup, never a revert.
//
// A train declares them (irreversible: [{component, reason}]) for the hop
// from any train it upgradesFrom; the catalog checks the declaration
// against rules derived from the version changes of each hop (see
// DerivedIrreversible), so a train cannot forget a migration its versions
// imply. A train may declare more than the rules find (a migration the
// rules cannot see, such as a stand-in's).
type Irreversible struct {
	// Component is the appliance component the step belongs to (docs,
	// keycloak, postgresql, or a chart's component).
	Component string `json:"component"`
	// Reason says what runs and why the previous release cannot run on
	// what it leaves behind.
	Reason string `json:"reason"`
}

// Repositories of the images whose version changes the rules read.
const (
	keycloakImage   = "keycloak/keycloak"
	postgresqlImage = "cloudnative-pg/postgresql"
)

// DerivedIrreversible returns what the hop from → to cannot undo, by rules:
//   - Docs: any version change. Docs runs its Django migrations on start
//     (the chart's migrate Job); fix releases may carry migrations too, and
//     an older Docs does not run on a newer schema.
//   - Keycloak: any change of its image. Keycloak migrates its database
//     schema on start, not atomically and not reversibly (keycloak #35901,
//     #37356); patch releases are counted too rather than trusted.
//   - PostgreSQL: a change of major (CloudNativePG runs pg_upgrade; old
//     backups cannot recover across majors). A minor change keeps the
//     on-disk format and is not counted.
func DerivedIrreversible(from, to *Train) []Irreversible {
	var out []Irreversible
	if from.Docs.Version != to.Docs.Version {
		out = append(out, Irreversible{Component: "docs", Reason: fmt.Sprintf(
			"Docs %s → %s migrates its database; Docs %s does not run on the migrated schema", from.Docs.Version, to.Docs.Version, from.Docs.Version)})
	}
	if a, b := imageTag(from, keycloakImage), imageTag(to, keycloakImage); a != "" && b != "" && a != b {
		out = append(out, Irreversible{Component: "keycloak", Reason: fmt.Sprintf(
			"Keycloak %s → %s migrates its database schema on start; the migration is not reversible", a, b)})
	}
	if a, b := imageTag(from, postgresqlImage), imageTag(to, postgresqlImage); a != "" && b != "" {
		if ma, mb := majorOf(a), majorOf(b); ma >= 0 && mb >= 0 && ma != mb {
			out = append(out, Irreversible{Component: "postgresql", Reason: fmt.Sprintf(
				"PostgreSQL %d → %d upgrades the data files in place (pg_upgrade); backups taken before cannot be recovered on %d", ma, mb, mb)})
		}
	}
	return out
}

// HopIrreversible is what the hop from → to cannot undo: the target
// train's declaration, and any derived step the declaration lacks (only a
// train added after the catalog's check can lack one).
func HopIrreversible(from, to *Train) []Irreversible {
	out := append([]Irreversible(nil), to.Irreversible...)
	for _, d := range DerivedIrreversible(from, to) {
		if !declares(to, d.Component) {
			out = append(out, d)
		}
	}
	return out
}

func declares(t *Train, component string) bool {
	for _, i := range t.Irreversible {
		if i.Component == component {
			return true
		}
	}
	return false
}

func imageTag(t *Train, repoSuffix string) string {
	if im, ok := t.ImageFor(repoSuffix); ok {
		return strings.TrimPrefix(im.Tag(), "v")
	}
	return ""
}

// majorOf reads the leading number of a tag ("17.6-standard-bookworm": 17).
func majorOf(tag string) int {
	end := strings.IndexFunc(tag, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(tag)
	}
	n, err := strconv.Atoi(tag[:end])
	if err != nil {
		return -1
	}
	return n
}

func (t *Train) validateIrreversible(add func(p, problem, fix string)) {
	seen := map[string]bool{}
	for i, ir := range t.Irreversible {
		p := fmt.Sprintf("irreversible[%d]", i)
		if !dns1123Re.MatchString(ir.Component) {
			add(p+".component", fmt.Sprintf("%q is not a component name", ir.Component), "name the component (docs, keycloak, postgresql or a chart's component)")
		} else if seen[ir.Component] {
			add(p+".component", fmt.Sprintf("%q listed twice", ir.Component), "keep one entry per component and say everything in its reason")
		}
		seen[ir.Component] = true
		if strings.TrimSpace(ir.Reason) == "" {
			add(p+".reason", "empty", "say what runs and why the previous train cannot run on what it leaves")
		}
	}
	if len(t.Irreversible) > 0 && len(t.UpgradesFrom) == 0 {
		add("irreversible", "a train no appliance upgrades to has no hop to mark", "add upgradesFrom, or remove irreversible")
	}
}

// checkHops checks every hop into t from a train the catalog knows: the
// version changes' irreversible steps are declared, and k3s moves at most
// one Kubernetes minor, forward (k3s and the system-upgrade-controller do
// not protect against a skipped minor).
func (c *Catalog) checkHops(t *Train) error {
	for _, f := range t.UpgradesFrom {
		from, ok := c.trains[f]
		if !ok {
			continue
		}
		for _, d := range DerivedIrreversible(from, t) {
			if !declares(t, d.Component) {
				return fmt.Errorf("train %s: the upgrade from %s cannot be undone (%s) and irreversible does not say so (fix: add irreversible: [{component: %s, reason: ...}])",
					t.Name, f, d.Reason, d.Component)
			}
		}
		if err := docsStep(from.Docs.Version, t.Docs.Version); err != nil {
			return fmt.Errorf("train %s: the upgrade from %s %w", t.Name, f, err)
		}
		a, aok := k3sMinor(from.K3s.Version)
		b, bok := k3sMinor(t.K3s.Version)
		if aok && bok && (b < a || b > a+1) {
			return fmt.Errorf("train %s: the upgrade from %s moves k3s from Kubernetes 1.%d to 1.%d; Kubernetes upgrades one minor at a time, forward (fix: pin k3s 1.%d or 1.%d, or add a stop train between them)",
				t.Name, f, a, b, a, a+1)
		}
	}
	return nil
}

// docsStep refuses a hop that skips a Docs minor or major release (Docs'
// UPGRADE.md: upgrades run sequentially; fix releases may be skipped): the
// next minor of the same major, or the next major's x.0.
func docsStep(from, to string) error {
	fa, fb, ok1 := majorMinor(from)
	ta, tb, ok2 := majorMinor(to)
	if !ok1 || !ok2 {
		return nil
	}
	switch {
	case ta < fa || (ta == fa && tb < fb):
		return fmt.Errorf("moves Docs back from %s to %s (fix: a train never downgrades Docs)", from, to)
	case ta == fa && tb <= fb+1, ta == fa+1 && tb == 0:
		return nil
	}
	return fmt.Errorf("moves Docs from %s to %s, skipping a release (Docs' UPGRADE.md: minor and major releases must not be skipped; fix: add a stop train with the release between them to upgradesFrom and requiredStops)", from, to)
}

func majorMinor(v string) (int, int, bool) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(parts[0])
	b, err2 := strconv.Atoi(parts[1])
	return a, b, err1 == nil && err2 == nil
}
