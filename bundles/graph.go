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
		return nil, err
	}
	if from == to {
		return nil, nil
	}
	if to < from {
		return nil, fmt.Errorf("upgrading from %s to %s: a downgrade is not possible; roll back with the previous desired state instead (git revert)", from, to)
	}
	if path := c.search(from, to, true); path != nil {
		return path, nil
	}
	if path := c.search(from, to, false); path != nil {
		// A path exists but skips a required stop: name it.
		for _, n := range path {
			for _, stop := range c.trains[n].RequiredStops {
				if stop > from && !contains(path, stop) {
					return nil, fmt.Errorf("upgrading from %s to %s: %s requires a stop at %s first, and %s cannot be reached through it; upgrade to %s, then to %s", from, to, n, stop, to, stop, to)
				}
			}
		}
	}
	direct, _ := c.Get(to)
	return nil, fmt.Errorf("upgrading from %s to %s: no allowed path; %s upgrades only from %s", from, to, to, orNone(direct.UpgradesFrom))
}

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
