package bundles

import (
	"fmt"
	"strings"
)

// UpgradePath returns the trains an appliance on `from` passes through to
// reach `to`, `to` included: the shortest chain of allowed direct upgrades
// (a train's upgradesFrom) that visits every required stop newer than
// `from` on the way. A downgrade, an unknown train or a jump the graph does
// not allow is an error that says which way is allowed.
func (c *Catalog) UpgradePath(from, to string) ([]string, error) {
	if _, err := c.Get(to); err != nil {
		return nil, &PathError{From: from, To: to, Kind: PathUnknownTrain, err: err}
	}
	if from == to {
		return nil, nil
	}
	if to < from {
		return nil, &PathError{From: from, To: to, Kind: PathDowngrade}
	}
	if path := c.search(from, to, true); path != nil {
		return path, nil
	}
	if path := c.search(from, to, false); path != nil {
		// A path exists but skips a required stop. The search above keeps
		// the first way it reaches a train, which may be the way without
		// the stop: go through the stop explicitly before refusing.
		for _, n := range path {
			for _, stop := range c.trains[n].RequiredStops {
				if stop > from && !contains(path, stop) {
					if first, err := c.UpgradePath(from, stop); err == nil {
						if rest := c.search(stop, to, true); rest != nil {
							return append(first, rest...), nil
						}
					}
					return nil, &PathError{From: from, To: to, Kind: PathSkipsStop, Stop: stop, StopOf: n}
				}
			}
		}
	}
	direct, _ := c.Get(to)
	return nil, &PathError{From: from, To: to, Kind: PathNone, Allowed: direct.UpgradesFrom}
}

// PathKind says why an upgrade path was refused.
type PathKind string

// The ways an upgrade can be refused.
const (
	PathUnknownTrain PathKind = "unknown-train"
	PathDowngrade    PathKind = "downgrade"
	PathSkipsStop    PathKind = "skips-required-stop"
	PathNone         PathKind = "no-path"
)

// ExitPathRefused is the exit code of a refused upgrade path.
const ExitPathRefused = 5

// PathError is an upgrade the train graph does not allow, naming the way
// that is allowed when there is one.
type PathError struct {
	From, To string
	Kind     PathKind
	// Stop is the required stop a direct path would skip, StopOf the train
	// that requires it.
	Stop, StopOf string
	// Allowed are the trains To upgrades from directly (PathNone).
	Allowed []string
	err     error
}

func (e *PathError) Error() string {
	switch e.Kind {
	case PathUnknownTrain:
		return fmt.Sprintf("upgrading from %s to %s: %v", e.From, e.To, e.err)
	case PathDowngrade:
		return fmt.Sprintf("upgrading from %s to %s: a downgrade is not possible; roll back with the previous desired state instead (git revert), or restore a backup of %s", e.From, e.To, e.To)
	case PathSkipsStop:
		return fmt.Sprintf("upgrading from %s to %s: %s requires a stop at %s first, and %s cannot be reached through it; upgrade to %s, then to %s", e.From, e.To, e.StopOf, e.Stop, e.To, e.Stop, e.To)
	}
	return fmt.Sprintf("upgrading from %s to %s: no allowed path; %s upgrades only from %s", e.From, e.To, e.To, orNone(e.Allowed))
}

func (e *PathError) Unwrap() error { return e.err }

// ExitCode: a refused path is its own exit code (5), apart from a plan
// whose gates fail (3).
func (e *PathError) ExitCode() int { return ExitPathRefused }

// search finds the shortest chain of direct upgrades (x → y when
// y.upgradesFrom holds x) from `from` to `to`; with stops set, a train is
// entered only when every required stop newer than `from` is already behind.
func (c *Catalog) search(from, to string, stops bool) []string {
	type node struct {
		name string
		path []string
	}
	queue := []node{{name: from}}
	seen := map[string]bool{from: true}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, name := range c.Names() {
			t := c.trains[name]
			if seen[name] || !contains(t.UpgradesFrom, cur.name) {
				continue
			}
			if stops && !stopsBehind(t, from, cur.path) {
				continue
			}
			path := append(append([]string(nil), cur.path...), name)
			if name == to {
				return path
			}
			seen[name] = true
			queue = append(queue, node{name, path})
		}
	}
	return nil
}

func stopsBehind(t *Train, from string, behind []string) bool {
	for _, stop := range t.RequiredStops {
		if stop > from && !contains(behind, stop) {
			return false
		}
	}
	return true
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none: fresh installs only)"
	}
	return strings.Join(s, ", ")
}
