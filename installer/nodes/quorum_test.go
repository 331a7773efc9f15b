package nodes

import (
	"errors"
	"strings"
	"testing"
)

func members(ready ...bool) []Node {
	var out []Node
	for i, r := range ready {
		out = append(out, Node{Name: "docs-" + string(rune('1'+i)), Roles: []string{"server", "etcd"}, Ready: r})
	}
	return out
}

func TestQuorumVerdicts(t *testing.T) {
	agent := Node{Name: "worker-1", Roles: []string{"agent"}, Ready: false}
	for _, c := range []struct {
		name  string
		nodes []Node
		level Level
		says  string
	}{
		{"sqlite", []Node{{Name: "docs-1", Roles: []string{"server"}, Ready: true}}, OK, "one server on SQLite"},
		{"one member", members(true), OK, "one etcd member"},
		{"two ready", members(true, true), Fail, "two servers have no fault tolerance: losing either stops the cluster; join a third"},
		{"two, one lost", members(true, false), Fail, "etcd has lost quorum: 1 of 2 members Ready, 2 needed; the cluster accepts no change until docs-2 is back"},
		{"three ready", append(members(true, true, true), agent), OK, "3 of 3 etcd members Ready: survives the loss of 1"},
		{"three, one lost", members(true, false, true), Fail, "etcd keeps quorum with 2 of 3 members but survives no further loss: bring docs-2 back, or replace it (`docs-appliance node remove docs-2`"},
		{"three, two lost", members(false, false, true), Fail, "lost quorum: 1 of 3 members Ready, 2 needed; the cluster accepts no change until docs-1, docs-2 is back"},
		{"four", members(true, true, true, true), Warn, "4 etcd members tolerate no more loss than 3"},
		{"five, one lost", members(true, true, true, true, false), Warn, "etcd member(s) docs-5 not Ready: 4 of 5 Ready, 1 more may be lost"},
	} {
		level, msg := QuorumOf(c.nodes).Verdict()
		if level != c.level || !strings.Contains(msg, c.says) {
			t.Errorf("%s: %s %q, want %s containing %q", c.name, level, msg, c.level, c.says)
		}
	}
}

func TestRemovalGuard(t *testing.T) {
	var refused *RemovalRefusedError
	// 3 → 2 of a Ready member: refused, --force may override.
	err := CheckRemoval(members(true, true, true), "docs-3", false)
	if !errors.As(err, &refused) || !refused.Forceable || !strings.Contains(err.Error(), "etcd would go from 3 to 2 members and survive no loss: join its replacement first") {
		t.Errorf("3 → 2: %v", err)
	}
	if err := CheckRemoval(members(true, true, true), "docs-3", true); err != nil {
		t.Errorf("3 → 2 forced: %v", err)
	}
	// A lost member of three may go: the first step of replacing it.
	if err := CheckRemoval(members(true, true, false), "docs-3", false); err != nil {
		t.Errorf("removing a lost member: %v", err)
	}
	// Never below quorum, force or not.
	err = CheckRemoval(members(true, false, false), "docs-1", true)
	if !errors.As(err, &refused) || refused.Forceable || !strings.Contains(err.Error(), "etcd would keep 0 Ready of 2 members and lose quorum (needs 2)") {
		t.Errorf("below quorum: %v", err)
	}
	err = CheckRemoval(members(true), "docs-1", true)
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "the cluster's last server") {
		t.Errorf("last server: %v", err)
	}
	// 5 → 4 keeps one loss of tolerance; agents always go.
	if err := CheckRemoval(members(true, true, true, true, true), "docs-5", false); err != nil {
		t.Errorf("5 → 4: %v", err)
	}
	if err := CheckRemoval(append(members(true, true), Node{Name: "w", Roles: []string{"agent"}}), "w", false); err != nil {
		t.Errorf("agent: %v", err)
	}
	if err := CheckRemoval(members(true), "nope", false); !errors.Is(err, ErrNoSuchNode) {
		t.Errorf("unknown node: %v", err)
	}
}
