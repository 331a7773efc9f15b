package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/k3s"
	"github.com/suitenumerique/docs-appliance/installer/nodes"
)

func TestJoinTakesTheTokenFromOnePlace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "join-token")
	if err := os.WriteFile(file, []byte("K10abc::id.secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		args  []string
		file  string
		stdin string
		want  string
		err   string
	}{
		{"file", []string{"https://s:6443"}, file, "", "K10abc::id.secret", ""},
		{"stdin", []string{"https://s:6443", "-"}, "", "K10abc::from.stdin\n", "K10abc::from.stdin", ""},
		{"argument", []string{"https://s:6443", "K10abc::on.argv"}, "", "", "", "the second argument may only be -"},
		{"both", []string{"https://s:6443", "K10abc::on.argv"}, file, "", "", "give the token once"},
		{"none", []string{"https://s:6443"}, "", "", "", "no token: give --token-file FILE"},
	} {
		got, err := joinToken(c.args, c.file, strings.NewReader(c.stdin))
		if err != nil && strings.Contains(err.Error(), "on.argv") {
			t.Errorf("%s: the error echoes the token: %v", c.name, err)
		}
		if got != c.want || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %q %v", c.name, got, err)
		}
	}
}

func TestNodeCommandsAreThere(t *testing.T) {
	for _, args := range [][]string{{"node", "token", "create"}, {"join", "https://s:6443"}} {
		_, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), `required flag(s) "role" not set`) {
			t.Errorf("%v: %v", args, err)
		}
	}
	out, err := run(t, "node", "--help")
	if err != nil || !strings.Contains(out, "remove") || !strings.Contains(out, "token") || !strings.Contains(out, "list") {
		t.Errorf("node --help: %v\n%s", err, out)
	}
}

// The host Jobs' pods run this program with the arguments the Job builders give: the commands
// must take them as they are (a host with no k3s of the appliance's refuses, writing nothing).
func TestHostJobsArgumentsAreThisProgramsCommands(t *testing.T) {
	for name, args := range map[string][]string{
		"swap":  nodes.SwapJob("docs-2", &nodes.SwapImage{Ref: "docs-appliance.local/k3s-swap:v1", K3sSHA256: strings.Repeat("ab", 32)}).Spec.Template.Spec.Containers[0].Args,
		"leave": nodes.LeaveJob("docs-2", &nodes.LeaveImage{Ref: "docs-appliance.local/leave:v1"}).Spec.Template.Spec.Containers[0].Args,
	} {
		hostRoot := t.TempDir()
		for i := range args {
			if i > 0 && args[i-1] == "--host-root" {
				args[i] = hostRoot
			}
		}
		_, err := run(t, args...)
		if !errors.Is(err, k3s.ErrNotOurs) {
			t.Errorf("%s %v: %v, want the refusal of a host without the appliance's k3s", name, args, err)
		}
		if entries, _ := os.ReadDir(hostRoot); len(entries) != 0 {
			t.Errorf("%s wrote into the host: %v", name, entries)
		}
	}
}
