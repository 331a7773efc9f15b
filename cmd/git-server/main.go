// Command git-server is the appliance's in-cluster git server (package installer/gitserver): it
// creates the desired-state repository on its volume if absent and serves git's smart HTTP
// protocol to the accounts of its users file. It runs in its own image, beside git. Invoked as
// pre-receive (the link its -validate-pushes installs in every repository) it is the hook that
// validates each push (package prereceive).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/suitenumerique/docs-appliance/installer/gitserver"
	"github.com/suitenumerique/docs-appliance/installer/gitserver/prereceive"
)

type repoList []string

func (r *repoList) String() string     { return strings.Join(*r, ",") }
func (r *repoList) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	// git runs the hook as <hooks>/pre-receive, a link to this program.
	if filepath.Base(os.Args[0]) == gitserver.HookName {
		h := &prereceive.Hook{Env: os.Getenv, Stdin: os.Stdin, Stderr: os.Stderr}
		os.Exit(h.Run(context.Background()))
	}
	s := &gitserver.Server{Log: log.New(os.Stderr, "", log.LstdFlags|log.LUTC)}
	var repos repoList
	listen := flag.String("listen", ":8080", "address to serve on")
	flag.StringVar(&s.Root, "root", "/data", "folder holding the bare repositories (a persistent volume)")
	flag.Var(&repos, "repo", "repository to create and serve, e.g. appliance.git (repeatable)")
	flag.StringVar(&s.Branch, "branch", "main", "default branch of a new repository")
	flag.StringVar(&s.UsersFile, "users", "/etc/git-server/users", "accounts file: name:role:bcrypt-hash lines (re-read on each request)")
	flag.StringVar(&s.Git, "git", gitserver.DefaultGit, "git executable")
	flag.StringVar(&s.HTTPBackend, "http-backend", gitserver.DefaultHTTPBackend, "git-http-backend executable")
	flag.StringVar(&s.TrainFile, "train", "", "release train file every push's images are checked against (re-read on each push); without it, pins by digest only")
	validatePushes := flag.Bool("validate-pushes", false, "refuse a push whose tree does not pass docs-appliance validate (skip one with git push -o "+prereceive.SkipOption+"=REASON)")
	flag.Parse()
	s.Repos = repos
	if *validatePushes {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "Error: finding this program for the pre-receive hook:", err)
			os.Exit(1)
		}
		s.Hook = self
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := s.Init(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	s.Log.Printf("serving %s from %s on %s", s.Repos, s.Root, *listen)
	if err := s.Listen(ctx, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
