//go:build e2e

package install

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suitenumerique/docs-appliance/installer/config/certtest"
)

// installProvidedTLS installs with tls.mode provided and a certificate chain the test makes
// (root → intermediate → leaf for the test's hosts): the Secret edge/docs-tls Flux applies holds
// that chain and key. A renewed certificate written over the files, installed again, is one
// commit that changes only that Secret's file.
func (e *env) installProvidedTLS(ctx context.Context, t *testing.T) {
	dir := t.TempDir()
	inter := certtest.NewRoot(t, "e2e Root").Intermediate(t, "e2e Intermediate")
	hosts := []string{"docs.e2e.test", "*.e2e.test"}
	first := inter.Issue(t, certtest.Leaf{Hosts: hosts})
	certFile, keyFile := first.Write(t, dir)
	set := []string{"--set", "domain=tls.e2e.test", "--set", "tls.mode=provided", "--set", "tls.certFile=" + certFile, "--set", "tls.keyFile=" + keyFile}

	out := e.mustInstall(ctx, t, set...)
	if strings.Contains(out, strings.TrimSpace(string(first.KeyPEM(t)))[40:80]) {
		t.Fatal("the install printed the private key")
	}
	e.checkConverged(ctx, t, "tls.e2e.test")
	e.checkTLSSecret(ctx, t, first)

	before := e.snapshot(ctx, t)
	renewed := inter.Issue(t, certtest.Leaf{Hosts: hosts})
	renewed.Write(t, dir)
	out = e.mustInstall(ctx, t, set...)
	after := e.snapshot(ctx, t)
	if after.commits != before.commits+1 {
		t.Errorf("the renewal made %d commits, want 1", after.commits-before.commits)
	}
	if !strings.Contains(out, "1 files written") {
		t.Errorf("the renewal should write the TLS Secret's file alone:\n%s", tail(out, 12))
	}
	e.checkConverged(ctx, t, "tls.e2e.test")
	e.checkTLSSecret(ctx, t, renewed)
}

// checkTLSSecret reads edge/docs-tls as Flux applied it (decrypted in the cluster).
func (e *env) checkTLSSecret(ctx context.Context, t *testing.T, want *certtest.Issued) {
	t.Helper()
	s, err := e.c.Kube.CoreV1().Secrets("edge").Get(ctx, "docs-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading edge/docs-tls: %v", err)
	}
	if s.Type != "kubernetes.io/tls" || !bytes.Equal(bytes.TrimSpace(s.Data["tls.crt"]), bytes.TrimSpace(want.ChainPEM())) ||
		!bytes.Equal(bytes.TrimSpace(s.Data["tls.key"]), bytes.TrimSpace(want.KeyPEM(t))) {
		t.Errorf("edge/docs-tls (type %s) does not hold the certificate chain and key the test made", s.Type)
	}
}

// installTLSFor installs a provided certificate valid for d from the users' CA (args are the
// user path's install flags), and returns how to install a renewal valid for another duration.
func (e *env) installTLSFor(ctx context.Context, t *testing.T, d time.Duration, args []string) func(time.Duration) {
	t.Helper()
	dir := t.TempDir()
	inter := e.users.ca
	install := func(d time.Duration) {
		leaf := inter.Issue(t, certtest.Leaf{Hosts: []string{"docs.e2e.test"}, NotAfter: time.Now().Add(d)})
		certFile, keyFile := leaf.Write(t, dir)
		// Later --set win: the new certificate replaces the user path's.
		e.mustInstall(ctx, t, append(append([]string(nil), args...), "--set", "tls.certFile="+certFile, "--set", "tls.keyFile="+keyFile)...)
	}
	install(d)
	return install
}
