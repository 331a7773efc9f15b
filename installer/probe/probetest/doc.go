// Package probetest starts the real services the probe and wizard tests
// check answers against, each on 127.0.0.1 and torn down with the test:
// an OpenID provider built on github.com/zitadel/oidc/v3's op package, an
// S3 server (the versitygw binary that `make wizard-kit` builds and
// caches), a git smart-HTTP server (git's own http-backend behind
// net/http/cgi, with per-user read and write rights), an SMTP relay
// (github.com/emersion/go-smtp with AUTH PLAIN over STARTTLS or TLS), a DNS
// server for made-up names, and the certificate authority they all share.
//
// It is imported by tests only; the binary never links it.
package probetest
