package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// CertWarnDays is how close to its expiry a certificate gets a warning:
// ACME renews 30 days ahead, so a certificate this close has failed to
// renew for two weeks.
const CertWarnDays = 14

// checkTLS: the certificate each domain serves on port 443 chains to the
// authorities a browser trusts (UserPath.Roots), names the domain, and is
// not expired or about to be.
func checkTLS(ctx context.Context, e *Env) Finding {
	return eachDomain(ctx, e, func(ctx context.Context, domain string) Finding {
		ips, nr := e.reach(ctx, domain)
		if nr != nil {
			return *nr
		}
		conn, err := e.live().DialContext(ctx, "tcp", net.JoinHostPort(ips[0].String(), "443"))
		if err != nil {
			return unreached(domain, "connecting to "+domain+" on port 443", err)
		}
		defer conn.Close()
		if d, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(d)
		}
		// Verified below, by hand, to say which of the browser's rules fails.
		tc := tls.Client(conn, &tls.Config{ServerName: domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec
		if err := tc.HandshakeContext(ctx); err != nil {
			return Fail(openPortsFix, "TLS handshake with %s: %v", domain, err)
		}
		return e.judgeCert(domain, tc.ConnectionState().PeerCertificates)
	})
}

func (e *Env) judgeCert(domain string, certs []*x509.Certificate) Finding {
	fix := e.certFix()
	if len(certs) == 0 {
		return Fail(fix, "%s sent no certificate", domain)
	}
	leaf, now := certs[0], e.now()
	if now.After(leaf.NotAfter) {
		return Fail(fix, "%s's certificate expired on %s: browsers refuse it", domain, day(leaf.NotAfter))
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	roots := e.UserPath.Roots
	if roots == nil {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			return Unreachable("reading this host's trusted certificate authorities", err, "install the ca-certificates package")
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{DNSName: domain, Roots: roots, Intermediates: inter, CurrentTime: now})
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invErr x509.CertificateInvalidError
	switch {
	case errors.As(err, &hostErr):
		return Fail(fix, "%s's certificate is for %s, not for %s: browsers refuse it", domain, certNames(leaf), domain)
	case errors.As(err, &authErr):
		return Fail(e.trustFix(), "%s's certificate is issued by %q, which browsers here do not trust", domain, leaf.Issuer.CommonName)
	case errors.As(err, &invErr) && invErr.Reason == x509.Expired:
		return Fail(fix, "a certificate in %s's chain is outside its validity period (%s)", domain, invErr.Detail)
	case err != nil:
		return Fail(fix, "%s's certificate is refused: %v", domain, err)
	}
	// The chain is only as good as its first certificate to expire.
	end := leaf.NotAfter
	for _, c := range chains[0] {
		if c.NotAfter.Before(end) {
			end = c.NotAfter
		}
	}
	left := end.Sub(now)
	if left < CertWarnDays*24*time.Hour {
		return Warn(fix, "%s's certificate expires in %s (%s)", domain, days(left), day(end))
	}
	return Pass("%s: certificate valid until %s (%s), issued by %s", domain, day(end), days(left), leaf.Issuer.CommonName)
}

// certFix says how a certificate gets replaced, by TLS mode.
func (e *Env) certFix() string {
	switch e.Config.TLS.Mode {
	case config.TLSACME:
		return "certificates from ACME renew by themselves 30 days before they expire; one that did not means the ACME server cannot reach this site on port 80 for every domain: open port 80 and check the domains' DNS, then see the edge checks for the certificate's state"
	case config.TLSApplianceCA:
		return "the appliance's own authority renews its certificates by itself; the edge checks show the certificate's state, and running docs-appliance install again re-issues it"
	case config.TLSProvided:
		return fmt.Sprintf("replace the certificate file %s (and its key) with one valid for every domain, then run docs-appliance install again", e.Config.TLS.CertFile)
	}
	return "run docs-appliance install again to restore the certificate"
}

// trustFix says how browsers come to trust the certificate's issuer.
func (e *Env) trustFix() string {
	if e.Config.TLS.Mode == config.TLSApplianceCA {
		return "install the appliance's CA certificate in the users' browsers or devices (and on this host for doctor), or switch to tls.mode acme or provided"
	}
	return "serve the whole chain: the certificate file must hold the certificate followed by its intermediate certificates, issued by an authority browsers trust"
}

func certNames(c *x509.Certificate) string {
	names := c.DNSNames
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = []string{c.Subject.CommonName}
	}
	if len(names) == 0 {
		return "no name"
	}
	out := names[0]
	for _, n := range names[1:min(len(names), 4)] {
		out += ", " + n
	}
	if len(names) > 4 {
		out += fmt.Sprintf(" and %d more", len(names)-4)
	}
	return out
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func days(d time.Duration) string {
	n := int(d.Hours() / 24)
	if n == 1 {
		return "1 day"
	}
	if n == 0 {
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", n)
}
