package installer

import (
	"time"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// providedTLS is the operator's certificate and key (tls.mode provided),
// read and checked before the state folder is opened for writing.
type providedTLS struct {
	cert *config.ProvidedCert
}

// readProvidedTLS reads tls.certFile and tls.keyFile and checks them. The
// files are read again after Validate so that what goes into the store is
// exactly what was checked, even if they were replaced in between. Nothing
// is read for the other TLS modes.
func readProvidedTLS(cfg *config.Config) (*providedTLS, error) {
	if cfg.TLS.Mode != config.TLSProvided {
		return &providedTLS{}, nil
	}
	pc := cfg.CheckProvidedCert(time.Now())
	if err := pc.Err(); err != nil {
		return nil, err
	}
	return &providedTLS{cert: pc}, nil
}

// store puts the certificate and key into the secret store under the
// names render reads. An unchanged pair leaves the store as it is; a new
// one changes only those two values, so render re-encrypts only the TLS
// Secret.
func (p *providedTLS) store(s *secrets.Store) {
	if p.cert == nil {
		return
	}
	s.Set(config.SecretTLSCertificate, p.cert.Chain)
	s.Set(config.SecretTLSPrivateKey, string(p.cert.Key))
}

// warnings are the findings about the certificate that do not block.
func (p *providedTLS) warnings() []string {
	if p.cert == nil {
		return nil
	}
	return p.cert.Warnings
}
