// Package certtest makes throwaway certificate authorities and server
// certificates with crypto/x509, for tests of tls.mode provided: a root, its
// intermediates, leaves for given names, validity windows and key types,
// written as the PEM files an operator would give.
//
// It is a real CA, not a fake: the certificates verify with crypto/x509
// and serve with crypto/tls. Tests and the e2e install use it; nothing in
// the binary does.
package certtest
