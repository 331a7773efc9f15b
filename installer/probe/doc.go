// Package probe checks the operator's answers against the real services
// they name, before anything is installed: the public domain (syntax, DNS
// and — proved with a random token served on port 80 — that it reaches this
// host), an external OpenID provider (discovery, exact issuer, endpoints,
// RS256, client credentials), an S3 bucket (credentials, bucket, versioning,
// a put/get/delete round trip, clock skew), a git remote (credentials,
// branch, write access) and an SMTP relay (TLS and authentication).
//
// Every check returns a report of what it found and an error whose text is
// the reason an answer is wrong, fit to show the operator as is. Checks that
// would change something the operator owns (create a bucket, turn on
// versioning) stop with a *ConsentNeeded error instead and are run again
// with the operator's consent. Secrets pass through and are never logged.
//
// Live holds what every check shares (resolver, extra CA certificates,
// the port-80 listen address, the clock) so tests can aim the checks at
// real servers on 127.0.0.1; probetest starts those servers.
package probe
