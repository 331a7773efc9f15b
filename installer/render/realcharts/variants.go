package realcharts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/profiles"
)

// Variant is one appliance an operator can choose.
type Variant struct {
	Profile string
	TLS     string // acme, appliance-ca or provided
	// Mode is embedded (Keycloak and the object store in the cluster) or
	// external (the site's OpenID provider, S3 and mail relay).
	Mode      string
	Airgapped bool
}

// Name is profile/tls/mode/online|airgapped.
func (v Variant) Name() string {
	net := "online"
	if v.Airgapped {
		net = "airgapped"
	}
	return strings.Join([]string{v.Profile, v.TLS, v.Mode, net}, "/")
}

// Valid reports whether the config accepts the variant: ACME needs the CA
// to reach the site, which an air-gapped site cannot.
func (v Variant) Valid() bool { return !(v.TLS == config.TLSACME && v.Airgapped) }

// AllVariants is every profile × TLS mode × mode × network, smallest
// profile first.
func AllVariants() []Variant {
	names := profiles.Names()
	rank := map[string]int{"single-small": -3, "single": -2, "ha": -1}
	sort.SliceStable(names, func(i, j int) bool { return rank[names[i]] < rank[names[j]] })
	var out []Variant
	for _, p := range names {
		for _, tls := range []string{config.TLSACME, config.TLSApplianceCA, config.TLSProvided} {
			for _, mode := range []string{config.Embedded, config.External} {
				for _, air := range []bool{false, true} {
					out = append(out, Variant{Profile: p, TLS: tls, Mode: mode, Airgapped: air})
				}
			}
		}
	}
	return out
}

const domain = "docs.example.org"

// sets are the config answers of the variant (applied over a bare config).
func (v Variant) sets(train string, tlsFiles [2]string) []string {
	s := []string{
		"train=" + train, "profile=" + v.Profile, "domain=" + domain, "adminEmail=admin@example.org",
		fmt.Sprintf("airgapped=%t", v.Airgapped), "tls.mode=" + v.TLS, "git.mode=in-cluster",
	}
	switch v.TLS {
	case config.TLSACME:
		s = append(s, "tls.acmeEmail=admin@example.org")
	case config.TLSProvided:
		s = append(s, "tls.certFile="+tlsFiles[0], "tls.keyFile="+tlsFiles[1])
	}
	if v.Mode == config.External {
		const realm = "https://id.example.org/realms/staff"
		s = append(s,
			"identity.mode=external", "identity.issuer="+realm, "identity.clientID=docs-prod",
			"identity.endpoints.authorization="+realm+"/protocol/openid-connect/auth",
			"identity.endpoints.token="+realm+"/protocol/openid-connect/token",
			"identity.endpoints.userinfo="+realm+"/protocol/openid-connect/userinfo",
			"identity.endpoints.jwks="+realm+"/protocol/openid-connect/certs",
			"identity.endpoints.endSession="+realm+"/protocol/openid-connect/logout",
			"storage.mode=external", "storage.endpoint=https://s3.example.org", "storage.region=eu-west-3", "storage.bucket=acme-docs",
			"smtp.host=smtp.example.org", "smtp.username=docs", "smtp.from=docs@example.org")
	}
	return s
}

// givenSecrets writes a random value for every secret an operator gives
// (the external provider's client secret, the S3 keys, the SMTP password)
// into its own file, as --secret name=FILE takes them.
func givenSecrets(dir string) ([]string, error) {
	var flags []string
	for _, name := range []string{"identity.clientSecret", "storage.accessKeyID", "storage.secretAccessKey", "smtp.password"} {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("making the test value of %s: %w", name, err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(base64.RawURLEncoding.EncodeToString(b)), 0o600); err != nil {
			return nil, fmt.Errorf("writing the test value of %s: %w", name, err)
		}
		flags = append(flags, name+"="+p)
	}
	return flags, nil
}

// testCertificate makes what an operator brings for tls.mode provided: a
// certificate for the domain, valid for a year, chained to a CA made for
// the purpose, and its key. It returns the chain and key file paths.
func testCertificate(dir string, now time.Time) ([2]string, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return [2]string{}, err
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "check-real-charts test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return [2]string{}, fmt.Errorf("making the test CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return [2]string{}, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return [2]string{}, fmt.Errorf("making the test certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return [2]string{}, err
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	files := [2]string{filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")}
	if err := os.WriteFile(files[0], chain, 0o600); err != nil {
		return [2]string{}, err
	}
	if err := os.WriteFile(files[1], pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return [2]string{}, err
	}
	return files, nil
}

// bareConfig is the config file every variant starts from: its answers
// come as --set, as an operator scripting install would give them.
const bareConfig = "apiVersion: " + config.APIVersion + "\nkind: " + config.Kind + "\n"
