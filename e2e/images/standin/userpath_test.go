package main

import (
	"context"
	"crypto/x509"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/config/certtest"
	"github.com/suitenumerique/docs-appliance/installer/doctor"
	"github.com/suitenumerique/docs-appliance/installer/probe/probetest"
)

// TestDoctorsUserPathPassesAgainstTheStandin serves the stand-in over TLS
// from certificate files, as the e2e install's pod does, and runs doctor's
// user-path checks (all but S3, which the object store answers) at it.
func TestDoctorsUserPathPassesAgainstTheStandin(t *testing.T) {
	const domain = "docs.test"
	root := certtest.NewRoot(t, "appliance CA")
	dir := t.TempDir()
	certFile, keyFile := root.Issue(t, certtest.Leaf{Hosts: []string{domain, "extra.test"}}).Write(t, dir)
	t.Setenv("COLLABORATION_SERVER_ORIGIN", "https://"+domain)
	t.Setenv("DOCS_HOSTS", domain)

	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, options{Addr: "127.0.0.2:0", TLSAddr: "127.0.0.2:0", CertFile: certFile, KeyFile: keyFile},
			func(_, tlsAddr net.Addr) { addrs <- tlsAddr })
	}()
	var tlsAddr net.Addr
	select {
	case tlsAddr = <-addrs:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	_, port, _ := net.SplitHostPort(tlsAddr.String())

	dns := probetest.StartDNS(t, map[string][]netip.Addr{domain: {netip.MustParseAddr("127.0.0.2")}, "extra.test": {netip.MustParseAddr("127.0.0.2")}})
	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)
	env := &doctor.Env{
		Config: &config.Config{Domain: domain, TLS: config.TLS{Mode: config.TLSApplianceCA},
			Identity: config.Identity{Mode: config.Embedded, ClientID: "docs", Scopes: "openid email"}},
		UserPath: doctor.UserPath{Resolver: dns.Resolver, Roots: roots,
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, _, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				var d net.Dialer
				return d.DialContext(ctx, network, net.JoinHostPort(host, port))
			}},
	}
	var ids []string
	for _, c := range doctor.UserPathChecks() {
		if c.ID != doctor.UserPathS3 {
			ids = append(ids, c.ID)
		}
	}
	run := func() *doctor.Report {
		checks, err := doctor.Select(doctor.UserPathChecks(), ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		rep := doctor.Run(context.Background(), env, checks)
		t.Log(rep.Text())
		return rep
	}
	if rep := run(); rep.Summary.Passed != len(ids) {
		t.Fatalf("against the stand-in, want every check passed:\n%s", rep.Text())
	}

	// A page from a domain y-provider does not list, and a redirect URI the
	// realm does not allow, are refused as Docs' parts refuse them.
	env.Config.ExtraDomains = []string{"extra.test"}
	rep := run()
	for _, id := range []string{doctor.UserPathWebsocket, doctor.UserPathLogin} {
		if r, _ := rep.Get(id); r.Outcome != doctor.Failed {
			t.Errorf("%s with extra.test not allowed: %s (%s), want a failure", id, r.Outcome, r.Detail)
		}
	}
	env.Config.ExtraDomains = nil

	// A renewed Secret swaps the files: the stand-in serves the new
	// certificate without a restart (here one about to expire).
	root.Issue(t, certtest.Leaf{Hosts: []string{domain}, NotAfter: time.Now().Add(3 * 24 * time.Hour)}).Write(t, dir)
	checks, _ := doctor.Select(doctor.UserPathChecks(), []string{doctor.UserPathTLS}, nil)
	if r, _ := doctor.Run(context.Background(), env, checks).Get(doctor.UserPathTLS); r.Outcome != doctor.Warned {
		t.Errorf("after the renewal to a 3-day certificate: %s (%s), want a warning", r.Outcome, r.Detail)
	}
}
