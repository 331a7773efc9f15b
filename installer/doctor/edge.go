package doctor

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func edgeChecks() []Check {
	return []Check{
		{ID: "edge-gateway", Group: "edge", Title: "the gateway programmed", Run: checkGateway},
		{ID: "edge-routes", Group: "edge", Title: "every route accepted", Run: checkRoutes},
		{ID: "edge-certificates", Group: "edge", Title: "certificates ready and not about to expire", Run: checkCertificates},
		{ID: "edge-redirect", Group: "edge", Title: "plain HTTP redirected to HTTPS", Run: checkRedirect},
	}
}

func checkGateway(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	refs, err := inventory(ctx, e, nil, "gateway.networking.k8s.io/Gateway")
	if err != nil {
		return apiError("reading the edge's layer", err)
	}
	if len(refs) == 0 {
		return Skip("this appliance's train has no gateway")
	}
	var good, bad []string
	for _, r := range refs {
		u, err := get(ctx, e.Kube, r)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", r.Name, err))
			continue
		}
		if s, reason, msg, _ := condition(u, "Programmed"); s != "True" {
			bad = append(bad, fmt.Sprintf("%s: not programmed (%s)", r.Name, orText(strings.TrimSpace(reason+": "+msg), "no status")))
			continue
		}
		good = append(good, r.Name)
	}
	if len(bad) > 0 {
		return Fail("ports 80 and 443 must be free on this server for the gateway (docs-appliance preflight checks them); the gateway's log is in the support bundle",
			"%s", strings.Join(bad, "; "))
	}
	return Pass("programmed: %s", strings.Join(good, ", "))
}

func checkRoutes(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	refs, err := inventory(ctx, e, nil, "gateway.networking.k8s.io/HTTPRoute")
	if err != nil {
		return apiError("reading the edge's layer", err)
	}
	if len(refs) == 0 {
		return Skip("this appliance's train has no route")
	}
	var bad []string
	for _, r := range refs {
		u, err := get(ctx, e.Kube, r)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", r.Name, err))
			continue
		}
		parents, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
		if len(parents) == 0 {
			bad = append(bad, r.Name+": not attached to the gateway")
			continue
		}
		for _, p := range parents {
			pm, _ := p.(map[string]any)
			conds, _ := pm["conditions"].([]any)
			for _, typ := range []string{"Accepted", "ResolvedRefs"} {
				if s, reason, msg, _ := findCondition(conds, typ); s != "True" {
					bad = append(bad, fmt.Sprintf("%s: not %s (%s)", r.Name, typ, orText(strings.TrimSpace(reason+" "+msg), "no status")))
				}
			}
		}
	}
	if len(bad) > 0 {
		return Fail("a route whose backend is missing is fixed with its service (app-workloads); otherwise git revert the change that edited it", "%s", strings.Join(bad, "; "))
	}
	return Pass("%d route(s) accepted", len(refs))
}

// checkCertificates looks at cert-manager's Certificates and at every TLS
// Secret Flux applied (the operator's own certificate, tls.mode provided):
// ready, and the days left on what is served.
func checkCertificates(ctx context.Context, e *Env) Finding {
	if f, down := kubeDown(e); down {
		return f
	}
	certs, err := inventory(ctx, e, nil, "cert-manager.io/Certificate")
	if err != nil {
		return apiError("reading the edge's layer", err)
	}
	secrets, err := inventory(ctx, e, nil, "Secret")
	if err != nil {
		return apiError("reading the edge's layer", err)
	}
	var bad, warn, good []string
	for _, r := range certs {
		u, err := get(ctx, e.Kube, r)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", r.Name, err))
			continue
		}
		if s, reason, msg, _ := condition(u, "Ready"); s != "True" {
			bad = append(bad, fmt.Sprintf("certificate %s: %s", r.Name, orText(strings.TrimSpace(reason+" "+msg), "not ready")))
			continue
		}
		name, _, _ := unstructured.NestedString(u.Object, "spec", "secretName")
		secrets = append(secrets, r)
		secrets[len(secrets)-1].Kind, secrets[len(secrets)-1].Name, secrets[len(secrets)-1].APIVersion = "Secret", name, "v1"
	}
	seen := map[string]bool{}
	for _, r := range secrets {
		key := r.Namespace + "/" + r.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		s, err := e.Kube.Kube.CoreV1().Secrets(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil || s.Type != corev1.SecretTypeTLS {
			continue
		}
		leaf, err := firstCertificate(s.Data[corev1.TLSCertKey])
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", key, err))
			continue
		}
		left := leaf.NotAfter.Sub(e.now())
		line := fmt.Sprintf("%s (%s) expires in %d day(s)", strings.Join(leaf.DNSNames, ","), key, int(left.Hours()/24))
		switch {
		case left <= 0:
			bad = append(bad, fmt.Sprintf("%s (%s) expired on %s", strings.Join(leaf.DNSNames, ","), key, leaf.NotAfter.Format("2006-01-02")))
		case left < CertWarnDays*24*time.Hour:
			warn = append(warn, line)
		default:
			good = append(good, line)
		}
	}
	fix := e.certFix()
	switch {
	case len(bad) > 0:
		return Fail(fix, "%s", strings.Join(append(bad, warn...), "; "))
	case len(warn) > 0:
		return Warn(fix, "%s", strings.Join(warn, "; "))
	case len(good) == 0 && len(certs) == 0:
		return Skip("no serving certificate in the desired state")
	}
	return Pass("%s", strings.Join(good, "; "))
}

func firstCertificate(pemData []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(pemData)
	if b == nil {
		return nil, fmt.Errorf("no PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the certificate: %w", err)
	}
	return c, nil
}

// checkRedirect asks each domain over plain HTTP, as a browser does when a
// user types the name: the answer must send it to the same page over HTTPS.
func checkRedirect(ctx context.Context, e *Env) Finding {
	return eachDomain(ctx, e, func(ctx context.Context, domain string) Finding {
		if _, nr := e.reach(ctx, domain); nr != nil {
			return *nr
		}
		client, err := e.client()
		if err != nil {
			return Unreachable("preparing the requests", err, "install the ca-certificates package")
		}
		defer client.CloseIdleConnections()
		u := "http://" + domain + "/docs/?from=doctor"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return Fail("check the domain's spelling in the config", "requesting %s: %v", u, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return unreached(domain, "requesting "+u, err)
		}
		resp.Body.Close()
		want := "https://" + domain + "/docs/?from=doctor"
		loc := resp.Header.Get("Location")
		fix := "the gateway's HTTP listener must redirect to HTTPS: run docs-appliance install --non-interactive to restore the rendered routes"
		switch {
		case resp.StatusCode < 300 || resp.StatusCode > 308 || resp.StatusCode == 304:
			return Fail(fix, "http://%s/ answers %s instead of a redirect to HTTPS: users who type the name get no TLS", domain, resp.Status)
		case loc != want:
			return Fail(fix, "http://%s/ redirects to %q, not to %s", domain, loc, want)
		}
		return Pass("http://%s/ redirects to HTTPS (%d)", domain, resp.StatusCode)
	})
}
