package certtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Key types a leaf can have.
const (
	ECDSA   = "ecdsa"
	RSA     = "rsa"
	Ed25519 = "ed25519"
)

// CA is a certificate authority: a root, or an intermediate of one.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Parent signed it; nil for a root.
	Parent *CA
}

// NewRoot makes a self-signed root valid from an hour ago for ten years.
func NewRoot(t testing.TB, commonName string) *CA {
	t.Helper()
	return newCA(t, commonName, nil)
}

// Intermediate makes a CA that ca signs.
func (ca *CA) Intermediate(t testing.TB, commonName string) *CA {
	t.Helper()
	return newCA(t, commonName, ca)
}

func newCA(t testing.TB, cn string, parent *CA) *CA {
	t.Helper()
	key := newKey(t, ECDSA)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn, Organization: []string{"docs-appliance tests"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		t.Fatalf("signing test CA %s: %v", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, Key: key, Parent: parent}
}

// Leaf describes a server certificate to issue. Zero values mean: ECDSA
// P-256, valid from an hour ago for 90 days, serverAuth.
type Leaf struct {
	Hosts     []string
	KeyType   string
	NotBefore time.Time
	NotAfter  time.Time
	// ExtKeyUsage replaces serverAuth when set.
	ExtKeyUsage []x509.ExtKeyUsage
	// Key, when set, is used instead of a new key (a renewal keeping its key).
	Key crypto.Signer
}

// Issued is a leaf certificate, its key and the CAs above it.
type Issued struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain are the CAs from the issuer up to the root.
	Chain []*CA
}

// Issue signs a leaf.
func (ca *CA) Issue(t testing.TB, l Leaf) *Issued {
	t.Helper()
	now := time.Now()
	if l.NotBefore.IsZero() {
		l.NotBefore = now.Add(-time.Hour)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = now.Add(90 * 24 * time.Hour)
	}
	if l.ExtKeyUsage == nil {
		l.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	key := l.Key
	if key == nil {
		key = newKey(t, l.KeyType)
	}
	cn := ""
	if len(l.Hosts) > 0 {
		cn = l.Hosts[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: cn},
		NotBefore: l.NotBefore, NotAfter: l.NotAfter, DNSNames: l.Hosts,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: l.ExtKeyUsage, BasicConstraintsValid: true,
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatalf("signing test leaf: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	var chain []*CA
	for c := ca; c != nil; c = c.Parent {
		chain = append(chain, c)
	}
	return &Issued{Cert: cert, Key: key, Chain: chain}
}

// CertPEM is one certificate in PEM.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// ChainPEM is the leaf then every intermediate, without the root: what a
// server sends.
func (i *Issued) ChainPEM() []byte {
	out := CertPEM(i.Cert)
	for _, ca := range i.Chain {
		if ca.Parent != nil {
			out = append(out, CertPEM(ca.Cert)...)
		}
	}
	return out
}

// KeyPEM is the leaf's key in PKCS#8 PEM.
func (i *Issued) KeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(i.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Write puts the chain and the key into dir as tls.crt (0644) and tls.key
// (0600), replacing them atomically as an operator's renewal tool would,
// and returns their paths.
func (i *Issued) Write(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	return WriteFiles(t, dir, i.ChainPEM(), i.KeyPEM(t))
}

// WriteFiles writes the given PEM as dir/tls.crt and dir/tls.key.
func WriteFiles(t testing.TB, dir string, certPEM, keyPEM []byte) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{certFile, certPEM, 0o644}, {keyFile, keyPEM, 0o600}} {
		tmp := f.path + ".new"
		if err := os.WriteFile(tmp, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

func newKey(t testing.TB, typ string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch typ {
	case "", ECDSA:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case Ed25519:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("certtest: unknown key type %q", typ)
	}
	if err != nil {
		t.Fatalf("generating a %s test key: %v", typ, err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
