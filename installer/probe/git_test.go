package probe_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/probe"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

func TestGitAgainstARealServer(t *testing.T) {
	ca := probetest.NewCA(t)
	live := &probe.Live{CABundle: ca.PEM}
	ctx := context.Background()
	srv := probetest.StartGit(t, ca, map[string]probetest.GitUser{
		"writer": {Password: "write-token-1", Write: true},
		"reader": {Password: "read-token-1"},
	})
	stateURL := srv.InitRepo(t, "state", "main")
	emptyURL := srv.InitRepo(t, "empty", "")
	git := func(url, branch, user string) config.Git {
		return config.Git{Mode: config.GitExternal, URL: url, Branch: branch, Auth: config.GitAuthToken, Username: user}
	}

	t.Run("good answer: listed, branch found, probe branch pushed and deleted", func(t *testing.T) {
		before := srv.Refs(t, "state")
		rep, err := live.Git(ctx, git(stateURL, "main", "writer"), "write-token-1")
		if err != nil {
			t.Fatalf("a good answer was refused: %v", err)
		}
		if !rep.Writable || rep.Empty || len(rep.Head) != 40 || !slices.Equal(rep.Branches, []string{"main"}) {
			t.Errorf("report = %+v", rep)
		}
		if after := srv.Refs(t, "state"); !slices.Equal(before, after) {
			t.Errorf("refs changed from %v to %v: the probe branch was left behind or main moved", before, after)
		}
	})

	t.Run("empty repository: accepted, install creates the branch", func(t *testing.T) {
		rep, err := live.Git(ctx, git(emptyURL, "main", "writer"), "write-token-1")
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if !rep.Empty || !rep.Writable {
			t.Errorf("report = %+v", rep)
		}
		if refs := srv.Refs(t, "empty"); len(refs) != 0 {
			t.Errorf("refs left in the empty repository: %v", refs)
		}
	})

	cases := []struct {
		name                     string
		url, branch, user, token string
		want                     string
	}{
		{"bad credentials", stateURL, "main", "writer", "not-the-token-9", "refused the credentials of \"writer\""},
		{"unknown user", stateURL, "main", "nobody", "write-token-1", "refused the credentials"},
		{"unknown branch", stateURL, "prod", "writer", "write-token-1", "has no branch \"prod\" (it has: main)"},
		{"read-only token", stateURL, "main", "reader", "read-token-1", "give a token with write access"},
		{"no such repository", srv.BaseURL + "/missing.git", "main", "writer", "write-token-1", "no repository there"},
		{"http URL", strings.Replace(stateURL, "https:", "http:", 1), "main", "writer", "write-token-1", "not an https URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Refs(t, "state")
			_, err := live.Git(ctx, git(tc.url, tc.branch, tc.user), tc.token)
			if err == nil {
				t.Fatal("a bad answer was accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("reason = %q, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.token) {
				t.Errorf("the reason shows the token: %q", err)
			}
			if after := srv.Refs(t, "state"); !slices.Equal(before, after) {
				t.Errorf("refs changed from %v to %v", before, after)
			}
		})
	}
}

func TestGitOverSSH(t *testing.T) {
	key, pub := probetest.NewSSHKey(t)
	srv := probetest.StartGitSSH(t, pub)
	url := srv.InitRepo(t, "state", "main")
	live := &probe.Live{}
	ctx := context.Background()
	g := config.Git{Mode: config.GitExternal, URL: url, Branch: "main", Auth: config.GitAuthSSH, KnownHosts: srv.KnownHosts}

	t.Run("deploy key and known host: listed and write access proved", func(t *testing.T) {
		before := srv.Refs(t, "state")
		rep, err := live.Git(ctx, g, key)
		if err != nil {
			t.Fatalf("a good answer was refused: %v", err)
		}
		if !rep.Writable || rep.Head == "" {
			t.Errorf("report = %+v", rep)
		}
		if after := srv.Refs(t, "state"); !slices.Equal(before, after) {
			t.Errorf("refs changed from %v to %v", before, after)
		}
	})

	t.Run("another host key than the known one", func(t *testing.T) {
		bad := g
		bad.KnownHosts = srv.OtherHostKeyLine(t)
		_, err := live.Git(ctx, bad, key)
		if err == nil || !strings.Contains(err.Error(), "which the known_hosts lines do not hold") {
			t.Fatalf("want the host key refused, got %v", err)
		}
	})

	t.Run("a key the server does not accept", func(t *testing.T) {
		other, _ := probetest.NewSSHKey(t)
		_, err := live.Git(ctx, g, other)
		if err == nil || !strings.Contains(err.Error(), "refused the SSH key") {
			t.Fatalf("want the key refused, got %v", err)
		}
	})

	t.Run("no known_hosts lines", func(t *testing.T) {
		bad := g
		bad.KnownHosts = ""
		if _, err := live.Git(ctx, bad, key); err == nil || !strings.Contains(err.Error(), "trusted blindly") {
			t.Fatalf("got %v", err)
		}
	})
}
