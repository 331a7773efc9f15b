package cnpgkit

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// upstreamShape is the shape of plugin-barman-cloud's manifest.yaml (v0.14.0): the objects
// pluginObjects changes, trimmed to the fields it reads.
const upstreamShape = `apiVersion: v1
kind: Secret
metadata: {name: plugin-barman-cloud-8tfddg42gf, namespace: cnpg-system}
data:
  SIDECAR_IMAGE: |
    Z2hjci5pby9jbG91ZG5hdGl2ZS1wZy9wbHVnaW4tYmFybWFuLWNsb3VkLXNpZGVjYXItdG
    VzdGluZzptYWlu
type: Opaque
---
apiVersion: v1
kind: Service
metadata:
  annotations:
    cnpg.io/pluginClientSecret: barman-cloud-client-tls
    cnpg.io/pluginPort: "9090"
    cnpg.io/pluginServerSecret: barman-cloud-server-tls
  name: barman-cloud
  namespace: cnpg-system
spec:
  ports: [{port: 9090, targetPort: 9090}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: barman-cloud, namespace: cnpg-system}
spec:
  template:
    spec:
      containers:
      - name: barman-cloud
        image: ghcr.io/cloudnative-pg/plugin-barman-cloud-testing:main
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: barman-cloud-server, namespace: cnpg-system}
spec: {secretName: barman-cloud-server-tls}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: selfsigned-issuer, namespace: cnpg-system}
spec: {selfSigned: {}}
`

func TestPluginObjectsRunTheTrainsImagesWithCertificatesMadeHere(t *testing.T) {
	objs, err := pluginObjects([]byte(upstreamShape), "ghcr.io/cloudnative-pg/plugin-barman-cloud:v0.14.0", "ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar:v0.14.0")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GroupVersionKind().Group == "cert-manager.io" {
			t.Errorf("%s %s kept: no cert-manager runs on the node", o.GetKind(), o.GetName())
		}
		byName[o.GetKind()+"/"+o.GetName()] = o
	}
	containers, _, _ := unstructured.NestedSlice(byName["Deployment/barman-cloud"].Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if c["image"] != "ghcr.io/cloudnative-pg/plugin-barman-cloud:v0.14.0" || c["imagePullPolicy"] != "IfNotPresent" {
		t.Errorf("plugin container %v", c)
	}
	enc, _, _ := unstructured.NestedString(byName["Secret/plugin-barman-cloud-8tfddg42gf"].Object, "data", "SIDECAR_IMAGE")
	if dec, _ := base64.StdEncoding.DecodeString(enc); string(dec) != "ghcr.io/cloudnative-pg/plugin-barman-cloud-sidecar:v0.14.0" {
		t.Errorf("SIDECAR_IMAGE is %q", dec)
	}

	// The two Secrets must do what the operator and the plugin do with them: the operator dials
	// the Service trusting the server Secret's tls.crt for the Service's name, presenting the
	// client pair; the plugin (--client-cert) trusts the client Secret's tls.crt.
	secret := func(name string) (crt, key []byte) {
		s := byName["Secret/"+name]
		if s == nil {
			t.Fatalf("no Secret %s in %v", name, byName)
		}
		if s.Object["type"] != "kubernetes.io/tls" {
			t.Errorf("Secret %s type %v", name, s.Object["type"])
		}
		for _, k := range []string{"tls.crt", "tls.key"} {
			v, _, _ := unstructured.NestedString(s.Object, "data", k)
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil || len(b) == 0 {
				t.Fatalf("Secret %s %s: %v", name, k, err)
			}
			if k == "tls.crt" {
				crt = b
			} else {
				key = b
			}
		}
		return crt, key
	}
	serverCrt, serverKey := secret("barman-cloud-server-tls")
	clientCrt, clientKey := secret("barman-cloud-client-tls")
	handshake(t, serverCrt, serverKey, clientCrt, clientCrt, clientKey, "barman-cloud")

	// A client certificate the plugin does not trust is refused.
	other, err := selfSigned("intruder", nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		t.Fatal(err)
	}
	if err := tryHandshake(serverCrt, serverKey, clientCrt, other.cert, other.key, "barman-cloud"); err == nil {
		t.Error("the plugin's side accepted a client certificate it was not given")
	}
}

func handshake(t *testing.T, serverCrt, serverKey, clientCA, clientCrt, clientKey []byte, serverName string) {
	t.Helper()
	if err := tryHandshake(serverCrt, serverKey, clientCA, clientCrt, clientKey, serverName); err != nil {
		t.Fatalf("mutual TLS between the operator and the plugin: %v", err)
	}
}

func tryHandshake(serverCrt, serverKey, clientCA, clientCrt, clientKey []byte, serverName string) error {
	serverPair, err := tls.X509KeyPair(serverCrt, serverKey)
	if err != nil {
		return err
	}
	clientPair, err := tls.X509KeyPair(clientCrt, clientKey)
	if err != nil {
		return err
	}
	clientPool, roots := x509.NewCertPool(), x509.NewCertPool()
	clientPool.AppendCertsFromPEM(clientCA)
	roots.AppendCertsFromPEM(serverCrt)
	a, b := net.Pipe()
	errs := make(chan error, 1)
	go func() {
		s := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientCAs: clientPool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13})
		err := s.Handshake()
		if err == nil {
			_, err = s.Write([]byte("x"))
		}
		s.Close()
		errs <- err
	}()
	c := tls.Client(b, &tls.Config{ServerName: serverName, RootCAs: roots, Certificates: []tls.Certificate{clientPair}, MinVersion: tls.VersionTLS13})
	err = c.Handshake()
	if err == nil {
		_, err = c.Read(make([]byte, 1))
	}
	c.Close()
	if serr := <-errs; err == nil {
		err = serr
	}
	return err
}

func TestPluginObjectsRefuseAManifestOfAnotherShape(t *testing.T) {
	noSidecar := strings.Replace(upstreamShape, "SIDECAR_IMAGE", "OTHER", 1)
	if _, err := pluginObjects([]byte(noSidecar), "a:1", "b:1"); err == nil || !strings.Contains(err.Error(), "SIDECAR_IMAGE") {
		t.Errorf("a manifest without SIDECAR_IMAGE: %v", err)
	}
	twoContainers := strings.Replace(upstreamShape, "      - name: barman-cloud\n", "      - name: extra\n      - name: barman-cloud\n", 1)
	if _, err := pluginObjects([]byte(twoContainers), "a:1", "b:1"); err == nil || !strings.Contains(err.Error(), "2 containers") {
		t.Errorf("a Deployment with two containers: %v", err)
	}
}
