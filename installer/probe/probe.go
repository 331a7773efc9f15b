package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Resolver looks host names up; *net.Resolver is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Live runs the checks against the real services. The zero value checks
// from this host as install would: the system resolver, the system's
// certificate authorities, port 80 for the reachability proof.
type Live struct {
	// Resolver answers DNS questions; nil is net.DefaultResolver.
	Resolver Resolver
	// CABundle holds extra PEM certificates trusted besides the system's,
	// for services behind a private certificate authority.
	CABundle []byte
	// ListenAddr is where the reachability proof listens; empty is ":80".
	// The proof fetches http://DOMAIN:PORT/ with the port it listens on.
	ListenAddr string
	// Timeout bounds each check; zero is 30 seconds.
	Timeout time.Duration
	// Now is the local clock the S3 clock skew is measured against; nil is time.Now.
	Now func() time.Time
	// Roots, when set, are trusted instead of the system's authorities
	// (CABundle still adds to them): doctor passes what a user's browser
	// trusts for the appliance.
	Roots *x509.CertPool
	// Dial connects to an address the resolver returned; nil is a
	// net.Dialer (doctor's e2e reaches port 443 through a port-forward).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// PlainHTTP lets the S3 check use an http:// endpoint: doctor reaches
	// the embedded store through a port-forward, in clear as Docs does
	// inside the cluster. The operator's answers are always https.
	PlainHTTP bool
}

func (l *Live) resolver() Resolver {
	if l.Resolver != nil {
		return l.Resolver
	}
	return net.DefaultResolver
}

func (l *Live) timeout() time.Duration {
	if l.Timeout > 0 {
		return l.Timeout
	}
	return 30 * time.Second
}

func (l *Live) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// rootCAs is the system pool plus CABundle.
func (l *Live) rootCAs() (*x509.CertPool, error) {
	var pool *x509.CertPool
	if l.Roots != nil {
		pool = l.Roots.Clone()
	} else if sys, err := x509.SystemCertPool(); err == nil && sys != nil {
		pool = sys
	} else {
		pool = x509.NewCertPool()
	}
	if len(l.CABundle) > 0 && !pool.AppendCertsFromPEM(l.CABundle) {
		return nil, fmt.Errorf("reading the extra CA bundle: no PEM certificate in it")
	}
	return pool, nil
}

func (l *Live) tlsConfig(serverName string) (*tls.Config, error) {
	pool, err := l.rootCAs()
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}, nil
}

// DialContext dials host:port, resolving the host with l's resolver (so
// every check sees the same DNS answers the domain check saw) and
// connecting with l's Dial.
func (l *Live) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	dial := (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	if l.Dial != nil {
		dial = l.Dial
	}
	if net.ParseIP(host) != nil {
		return dial(ctx, network, addr)
	}
	ips, err := l.resolver().LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", host, err)
	}
	var firstErr error
	for _, ip := range ips {
		c, err := dial(ctx, network, net.JoinHostPort(ip.IP.String(), port))
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("resolving %s: no address", host)
	}
	return nil, firstErr
}

// HTTPClient is the client every check uses: it trusts the system's (or
// Roots) and CABundle's authorities, resolves with l's resolver and dials
// with l's Dial. It follows redirects (set CheckRedirect to stop that);
// close its idle connections when done.
func (l *Live) HTTPClient() (*http.Client, error) { return l.httpClient() }

// httpClient is a client that trusts the system's and CABundle's
// authorities, resolves with l's resolver and never follows a redirect
// silently to another scheme.
func (l *Live) httpClient() (*http.Client, error) {
	pool, err := l.rootCAs()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext:           l.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 20 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		Proxy:                 http.ProxyFromEnvironment,
	}
	return &http.Client{Transport: tr, Timeout: l.timeout()}, nil
}

// ConsentNeeded stops a check that would change something the operator
// owns; the check succeeds when run again with the consent given.
type ConsentNeeded struct {
	// Kind says which consent runs the check through: ConsentCreateBucket
	// or ConsentEnableVersioning.
	Kind ConsentKind
	// Action is what would be done, as a question's subject:
	// "create the bucket docs-media".
	Action string
	// Why says what needs it.
	Why string
}

// ConsentKind names a change a check may make with the operator's consent.
type ConsentKind string

// The changes the S3 check asks consent for.
const (
	ConsentCreateBucket     ConsentKind = "create-bucket"
	ConsentEnableVersioning ConsentKind = "enable-versioning"
)

// Grant records the consent in c.
func (k ConsentKind) Grant(c *S3Consent) {
	switch k {
	case ConsentCreateBucket:
		c.CreateBucket = true
	case ConsentEnableVersioning:
		c.EnableVersioning = true
	}
}

func (e *ConsentNeeded) Error() string { return e.Action + " is needed: " + e.Why }

func portString(p int) string { return strconv.Itoa(p) }
