package config

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// ExpiryWarning is how long before its end a provided certificate is
// reported: time enough to get a new one from whoever issued it.
const ExpiryWarning = 30 * 24 * time.Hour

// PrivateKeyPEM is a private key in PEM. It prints as a placeholder, so a
// stray %v or a debug dump never shows the key.
type PrivateKeyPEM string

func (PrivateKeyPEM) String() string   { return "(private key, not shown)" }
func (PrivateKeyPEM) GoString() string { return "(private key, not shown)" }

// ProvidedCert is the operator's certificate and key (tls.mode provided) as
// checked: exactly these bytes go into the secret store, so what the
// Gateway serves is what was checked.
type ProvidedCert struct {
	// Chain is every certificate of tls.certFile in PEM, leaf first, with
	// anything outside the PEM blocks dropped.
	Chain string
	// Key is the private key of tls.keyFile in PEM.
	Key PrivateKeyPEM
	// Leaf is the server certificate, nil when it did not parse.
	Leaf *x509.Certificate
	// Problems block the install; each names the field and the fix.
	Problems []bundles.FieldError
	// Warnings do not block it, and each says what to do.
	Warnings []string
}

// Err is the problems as one *bundles.ValidationError, or nil.
func (p *ProvidedCert) Err() error {
	if len(p.Problems) == 0 {
		return nil
	}
	return &bundles.ValidationError{Subject: "config", Fields: p.Problems}
}

func (p *ProvidedCert) problem(path, problem, fix string) {
	p.Problems = append(p.Problems, bundles.FieldError{Path: path, Problem: problem, Fix: fix})
}

func (p *ProvidedCert) warn(format string, a ...any) {
	p.Warnings = append(p.Warnings, fmt.Sprintf(format, a...))
}

// CheckProvidedCert reads tls.certFile and tls.keyFile and checks them as
// of now: the chain parses and is in order, the leaf is valid now, is for
// TLS servers and covers every host of the config, and the key is the
// leaf's. Nothing it reports shows key material.
func (c *Config) CheckProvidedCert(now time.Time) *ProvidedCert {
	p := &ProvidedCert{}
	if c.TLS.CertFile == "" {
		p.problem("tls.certFile", "empty", "give the PEM file of the certificate chain, server certificate first")
	} else if data, err := os.ReadFile(c.TLS.CertFile); err != nil {
		p.problem("tls.certFile", fmt.Sprintf("cannot be read: %v", err), "check the path, and that the account running docs-appliance can read it")
	} else {
		p.checkChain(data, c.Hosts(), now)
	}
	if c.TLS.KeyFile == "" {
		p.problem("tls.keyFile", "empty", "give the PEM file of the certificate's private key")
	} else if data, err := os.ReadFile(c.TLS.KeyFile); err != nil {
		p.problem("tls.keyFile", fmt.Sprintf("cannot be read: %v", err), "check the path, and that the account running docs-appliance can read it")
	} else {
		p.checkKey(data)
		p.checkKeyMode(c.TLS.KeyFile)
	}
	return p
}

// checkChain parses the certificates and checks the leaf.
func (p *ProvidedCert) checkChain(data []byte, hosts []string, now time.Time) {
	const field = "tls.certFile"
	var certs []*x509.Certificate
	var chain bytes.Buffer
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			what := fmt.Sprintf("a %q block", block.Type)
			if strings.Contains(block.Type, "PRIVATE KEY") {
				what = "a private key" // said without its content
			}
			p.problem(field, fmt.Sprintf("PEM block %d is %s, not a certificate", n, what),
				"keep only the certificates there (server certificate first, then its intermediates); the key goes in tls.keyFile")
			return
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			p.problem(field, fmt.Sprintf("certificate %d does not parse: %v", n, err), "give the chain as the CA delivered it, in PEM")
			return
		}
		certs = append(certs, cert)
		chain.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}))
	}
	if len(certs) == 0 {
		fix := "give the certificate chain in PEM (-----BEGIN CERTIFICATE-----), server certificate first"
		if _, err := x509.ParseCertificate(data); err == nil {
			fix = "the file is DER: convert it with `openssl x509 -inform der -in FILE -out FILE.pem`"
		}
		p.problem(field, "holds no PEM certificate", fix)
		return
	}
	if !p.checkOrder(certs) {
		return // the first certificate may not be the leaf: checking it would mislead
	}
	leaf := certs[0]
	p.Leaf, p.Chain = leaf, chain.String()

	switch {
	case now.Before(leaf.NotBefore):
		p.problem(field, fmt.Sprintf("the certificate is not valid before %s", day(leaf.NotBefore)),
			"check this host's clock (timedatectl), or install once the certificate is valid")
	case !now.Before(leaf.NotAfter):
		p.problem(field, fmt.Sprintf("the certificate expired on %s", day(leaf.NotAfter)),
			"renew it, replace tls.certFile and tls.keyFile, and run install again")
	case leaf.NotAfter.Sub(now) < ExpiryWarning:
		p.warn("tls.certFile: the certificate expires on %s, in %s: renew it, replace tls.certFile and tls.keyFile, and run install again (only the TLS Secret changes)",
			day(leaf.NotAfter), daysLeft(leaf.NotAfter.Sub(now)))
	}
	for i, ca := range certs[1:] {
		// Only a warning: clients may build their path around an expired
		// cross-signed intermediate, as Let's Encrypt's old chain did.
		if left := ca.NotAfter.Sub(now); left < ExpiryWarning {
			state := "expires in " + daysLeft(left)
			if left <= 0 {
				state = "has expired"
			}
			p.warn("tls.certFile: certificate %d of the chain (%s) %s, on %s: clients that build their path through it will refuse the site; get the current chain from the CA",
				i+2, name(ca), state, day(ca.NotAfter))
		}
	}

	if len(leaf.ExtKeyUsage)+len(leaf.UnknownExtKeyUsage) > 0 && !hasServerAuth(leaf) {
		p.problem(field, "the certificate's extended key usage does not include serverAuth (TLS web server authentication): browsers refuse it for a site",
			"use a TLS server certificate (extendedKeyUsage = serverAuth)")
	}
	p.checkHosts(leaf, hosts)
}

// checkOrder checks that each certificate is signed by the next one.
func (p *ProvidedCert) checkOrder(certs []*x509.Certificate) bool {
	const field = "tls.certFile"
	const fix = "give the server certificate first, then each intermediate followed by the one that signed it (the root may be left out)"
	if certs[0].IsCA {
		for _, c := range certs[1:] {
			if !c.IsCA {
				p.problem(field, fmt.Sprintf("the first certificate (%s) is a CA and %s, which is not, comes after it", name(certs[0]), name(c)), fix)
				return false
			}
		}
	}
	for i := 0; i+1 < len(certs); i++ {
		child, parent := certs[i], certs[i+1]
		if err := child.CheckSignatureFrom(parent); err != nil {
			problem := fmt.Sprintf("certificate %d (%s) is not signed by certificate %d (%s) that follows it", i+1, name(child), i+2, name(parent))
			for j, c := range certs {
				if j != i && j != i+1 && child.CheckSignatureFrom(c) == nil {
					problem += fmt.Sprintf(" but by certificate %d (%s): the chain is out of order", j+1, name(c))
					break
				}
			}
			p.problem(field, problem, fix)
			return false
		}
	}
	return true
}

// checkHosts reports the hosts of the config the leaf does not cover.
// Browsers read only the DNS names of the Subject Alternative Name.
func (p *ProvidedCert) checkHosts(leaf *x509.Certificate, hosts []string) {
	if len(leaf.DNSNames) == 0 {
		p.problem("tls.certFile", fmt.Sprintf("the certificate has no DNS names in its Subject Alternative Name (browsers ignore the Common Name %q)", leaf.Subject.CommonName),
			"get a certificate whose Subject Alternative Name lists every name of domain and extraDomains")
		return
	}
	var missing []string
	for _, h := range hosts {
		if ValidDomain(h) != nil {
			continue // reported on its own field
		}
		if !CoversHost(leaf.DNSNames, h) {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		p.problem("tls.certFile",
			fmt.Sprintf("the certificate does not cover %s (it covers %s)", strings.Join(missing, ", "), strings.Join(leaf.DNSNames, ", ")),
			"get a certificate for every name of domain and extraDomains, or remove the names it lacks from extraDomains")
	}
}

// CoversHost reports whether one of a certificate's DNS names matches host
// as RFC 6125 section 6.4 has clients match: case-insensitively, a wildcard
// only as the whole left-most label, standing for exactly one label, and
// never for a name of fewer than three labels (*.org covers nothing).
func CoversHost(names []string, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if n == host {
			return true
		}
		suffix, ok := strings.CutPrefix(n, "*.")
		if !ok || strings.Count(suffix, ".") < 1 || strings.Contains(suffix, "*") {
			continue
		}
		label, parent, ok := strings.Cut(host, ".")
		if ok && label != "" && parent == suffix {
			return true
		}
	}
	return false
}

func hasServerAuth(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny {
			return true
		}
	}
	return false
}

// checkKey parses the one private key and checks it is the leaf's.
func (p *ProvidedCert) checkKey(data []byte) {
	const field = "tls.keyFile"
	var keyBlock *pem.Block
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		switch {
		case block.Type == "EC PARAMETERS":
			continue // openssl ecparam -genkey writes it before the key
		case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED":
			p.problem(field, "the private key is encrypted with a passphrase, which the Gateway cannot enter",
				"write it unencrypted to a file only root can read: `openssl pkey -in KEY -out KEY.plain && chmod 600 KEY.plain`")
			return
		case !strings.HasSuffix(block.Type, "PRIVATE KEY"):
			p.problem(field, fmt.Sprintf("PEM block %d is a %q block, not a private key", n, block.Type), "keep only the private key there; certificates go in tls.certFile")
			return
		case keyBlock != nil:
			p.problem(field, "holds more than one private key", "keep only the key of the certificate in tls.certFile")
			return
		}
		keyBlock = block
	}
	if keyBlock == nil {
		p.problem(field, "holds no PEM private key", "give the certificate's private key in PEM (a PEM block of type PRIVATE KEY)")
		return
	}
	key, err := parsePrivateKey(keyBlock)
	if err != nil {
		// The parser's message is left out: it could quote bytes of the key.
		p.problem(field, fmt.Sprintf("the %s block does not parse as a private key", keyBlock.Type),
			"give the key in PKCS#8 (PRIVATE KEY), PKCS#1 (RSA PRIVATE KEY) or SEC 1 (EC PRIVATE KEY) PEM")
		return
	}
	p.Key = PrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: keyBlock.Type, Bytes: keyBlock.Bytes}))
	signer, ok := key.(crypto.Signer)
	if !ok {
		p.problem(field, fmt.Sprintf("is a %T key, which cannot sign", key), "a TLS certificate needs an RSA, ECDSA or Ed25519 key")
		return
	}
	if rk, ok := key.(*rsa.PrivateKey); ok && rk.N.BitLen() < 2048 {
		p.problem(field, fmt.Sprintf("is a %d-bit RSA key: browsers refuse keys under 2048 bits", rk.N.BitLen()),
			"make a new key (2048-bit RSA or ECDSA P-256) and get a certificate for it")
	}
	if _, ok := key.(ed25519.PrivateKey); ok {
		p.warn("tls.keyFile: the key is Ed25519: most browsers do not accept Ed25519 server certificates yet; an ECDSA P-256 or RSA certificate works everywhere")
	}
	if p.Leaf == nil {
		return
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(p.Leaf.PublicKey) {
		p.problem(field, fmt.Sprintf("the private key is not the key of the certificate in tls.certFile (%s)", name(p.Leaf)),
			"give the key the certificate was issued for, or the certificate issued for this key")
	}
}

func parsePrivateKey(b *pem.Block) (any, error) {
	switch b.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	default:
		return x509.ParsePKCS8PrivateKey(b.Bytes)
	}
}

// checkKeyMode warns when every account of this host can read the key: a
// warning, not a refusal, because the key is already exposed (refusing
// protects nothing), the appliance only reads the file once into its
// encrypted store, and a refusal would block the rotation of an expiring
// certificate. Group access is left alone: Debian keeps keys 0640
// root:ssl-cert in a 0710 folder by design.
func (p *ProvidedCert) checkKeyMode(path string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return
	}
	info, err := os.Stat(abs)
	if err != nil || info.Mode().Perm()&0o004 == 0 {
		return
	}
	// Others read it only if they can walk every folder above it.
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		d, err := os.Stat(dir)
		if err != nil || d.Mode().Perm()&0o001 == 0 {
			return
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	p.warn("tls.keyFile: %s can be read by every account on this host (mode %04o): `chmod 600 %s`; the appliance keeps its own encrypted copy",
		path, info.Mode().Perm(), path)
}

func name(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func daysLeft(d time.Duration) string {
	if n := int(d.Hours() / 24); n != 1 {
		return fmt.Sprintf("%d days", n)
	}
	return "1 day"
}
