package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/probe"
)

// The user-path checks' IDs.
const (
	UserPathDNS       = "user-path-dns"
	UserPathTLS       = "user-path-tls"
	UserPathConfigAPI = "user-path-config-api"
	UserPathOIDC      = "user-path-oidc"
	UserPathLogin     = "user-path-login"
	UserPathMedia     = "user-path-media-auth"
	UserPathWebsocket = "user-path-websocket"
	UserPathS3        = "user-path-s3"
)

const groupUserPath = "user-path"

// UserPathChecks are the checks a user's browser would make; install's
// last step runs them. Each one that talks to a domain first resolves it
// itself (the checks run in parallel): a domain that does not lead here
// makes them fail with "not reached", naming the check that says why.
func UserPathChecks() []Check {
	c := func(id, title string, timeout time.Duration, run func(context.Context, *Env) Finding) Check {
		return Check{ID: id, Group: groupUserPath, Title: title, Timeout: timeout, Run: run}
	}
	return []Check{
		c(UserPathDNS, "every domain resolves to this server", 5*time.Second, checkDNS),
		c(UserPathTLS, "every domain's certificate is valid and trusted", 10*time.Second, checkTLS),
		c(UserPathConfigAPI, "Docs' API answers (/api/v1.0/config/)", 10*time.Second, checkConfigAPI),
		c(UserPathOIDC, "the login provider publishes its discovery document", 10*time.Second, checkOIDCDiscovery),
		c(UserPathLogin, "the login page opens for Docs", 10*time.Second, checkLogin),
		c(UserPathMedia, "anonymous requests for media are refused", 10*time.Second, checkMediaAuth),
		c(UserPathWebsocket, "the collaboration websocket opens", 10*time.Second, checkWebsocket),
		c(UserPathS3, "the object store accepts Docs' credentials (write, read, delete)", 20*time.Second, checkS3),
	}
}

// noConfig is the finding of a user-path check run without the config.
func noConfig() Finding {
	return Fail("run doctor on the server where docs-appliance install ran, or give --config FILE",
		"the appliance's configuration was not loaded, so the domains are unknown")
}

// live is probe's view of the user path: the resolver, the roots a
// browser trusts and the dialer e names.
func (e *Env) live() *probe.Live {
	l := &probe.Live{Roots: e.UserPath.Roots, Dial: e.UserPath.Dial, Now: e.Now}
	if e.UserPath.Resolver != nil {
		l.Resolver = e.UserPath.Resolver
	}
	return l
}

func (e *Env) resolver() *net.Resolver {
	if e.UserPath.Resolver != nil {
		return e.UserPath.Resolver
	}
	return net.DefaultResolver
}

// client is a browser without cookies that does not follow redirects (the
// checks read them).
func (e *Env) client() (*http.Client, error) {
	c, err := e.live().HTTPClient()
	if err != nil {
		return nil, fmt.Errorf("trusting the browser's certificate authorities: %w", err)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// server tells this server's addresses: loopback, and ServerAddrs (or
// the interfaces' addresses when ServerAddrs is nil).
type server struct{ addrs []net.IP }

func (e *Env) server() server {
	if e.UserPath.ServerAddrs != nil {
		return server{e.UserPath.ServerAddrs}
	}
	var s server
	ifaddrs, _ := net.InterfaceAddrs()
	for _, a := range ifaddrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			s.addrs = append(s.addrs, n.IP)
		}
	}
	return s
}

func (s server) has(ip net.IP) bool {
	return ip.IsLoopback() || slices.ContainsFunc(s.addrs, ip.Equal)
}

// String lists a few of the server's addresses for a fix.
func (s server) String() string {
	if len(s.addrs) == 0 {
		return "its public address"
	}
	return joinIPs(s.addrs[:min(len(s.addrs), 3)])
}

func joinIPs(ips []net.IP) string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return strings.Join(out, ", ")
}

// lookup resolves a domain with the user path's resolver.
func (e *Env) lookup(ctx context.Context, domain string) ([]net.IP, error) {
	addrs, err := e.resolver().LookupIPAddr(ctx, domain)
	if err != nil {
		return nil, err
	}
	ips := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		ips = append(ips, a.IP)
	}
	return ips, nil
}

// reach resolves a domain for a check that then talks to it, and returns
// the addresses of this server it resolves to; when there is none, the
// "not reached" finding.
func (e *Env) reach(ctx context.Context, domain string) ([]net.IP, *Finding) {
	ips, err := e.lookup(ctx, domain)
	if err != nil || len(ips) == 0 {
		f := Fail("fix the domain's DNS first: "+UserPathDNS+" says how", "not reached: %s did not resolve", domain)
		return nil, &f
	}
	srv := e.server()
	var here []net.IP
	for _, ip := range ips {
		if srv.has(ip) {
			here = append(here, ip)
		}
	}
	if len(here) == 0 {
		f := Fail("fix the domain's DNS first: "+UserPathDNS+" says how",
			"not reached: %s resolves to %s, not to this server", domain, joinIPs(ips))
		return nil, &f
	}
	return here, nil
}

// unreached is the finding for a request that got no answer: a
// certificate a browser would refuse points at the TLS check; anything
// else is the connection itself.
func unreached(domain, doing string, err error) Finding {
	var verr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invErr x509.CertificateInvalidError
	if errors.As(err, &verr) || errors.As(err, &hostErr) || errors.As(err, &authErr) || errors.As(err, &invErr) {
		return Fail("fix the certificate first: "+UserPathTLS+" says how", "not reached: a browser refuses %s's certificate", domain)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Fail(openPortsFix, "%s: no answer in time from %s", doing, domain)
	}
	return Fail(openPortsFix, "%s: %v", doing, err)
}

const openPortsFix = "check that this server's firewall lets ports 80 and 443 in and that the appliance's gateway runs (the edge checks above say whether it does)"

// eachDomain runs one check's look at every domain at once and combines
// the findings.
func eachDomain(ctx context.Context, e *Env, look func(ctx context.Context, domain string) Finding) Finding {
	if e.Config == nil {
		return noConfig()
	}
	hosts := e.Config.Hosts()
	found := make([]Finding, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { found[i] = look(ctx, h) })
	}
	wg.Wait()
	return combine(found)
}

var severity = map[Outcome]int{Skipped: 0, Passed: 1, Warned: 2, Failed: 3}

// combine is the worst of the findings: its details joined (the others'
// left out), and the first worst finding's fix.
func combine(found []Finding) Finding {
	worst := Skipped
	for _, f := range found {
		if severity[f.Outcome] > severity[worst] {
			worst = f.Outcome
		}
	}
	out := Finding{Outcome: worst}
	var details []string
	for _, f := range found {
		if f.Outcome != worst {
			continue
		}
		details = append(details, f.Detail)
		if out.Fix == "" {
			out.Fix = f.Fix
		}
	}
	out.Detail = strings.Join(details, "; ")
	return out
}
