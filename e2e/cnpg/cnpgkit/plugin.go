package cnpgkit

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
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/installer/cluster"
)

// The annotations CloudNativePG reads on a plugin's Service (pkg/utils/labels_annotations.go).
const (
	annotationServerSecret = "cnpg.io/pluginServerSecret"
	annotationClientSecret = "cnpg.io/pluginClientSecret"
)

// PluginName is the CNPG-I name of the barman-cloud plugin, as Clusters and Backups name it.
const PluginName = "barman-cloud.cloudnative-pg.io"

// pluginObjects turns upstream's plugin manifest into what runs on the node: the Deployment runs
// pluginImage, the sidecar it injects is sidecarImage, and the cert-manager Issuer and Certificates
// give way to the two TLS Secrets the plugin's Service names, made now (valid for a day): a server
// certificate for the Service's name, which the operator trusts as it is, and a client certificate
// the plugin trusts as it is — what cert-manager's self-signed issuer makes upstream.
func pluginObjects(manifest []byte, pluginImage, sidecarImage string) ([]*unstructured.Unstructured, error) {
	objs, err := cluster.DecodeObjects(manifest)
	if err != nil {
		return nil, fmt.Errorf("reading the plugin manifest: %w", err)
	}
	var out []*unstructured.Unstructured
	var deployment, sidecarSecret, service bool
	var secrets []*unstructured.Unstructured
	for _, o := range objs {
		if o.GroupVersionKind().Group == "cert-manager.io" {
			continue
		}
		switch o.GetKind() {
		case "Deployment":
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			if len(containers) != 1 {
				return nil, fmt.Errorf("plugin Deployment %s has %d containers, want 1", o.GetName(), len(containers))
			}
			c := containers[0].(map[string]any)
			c["image"], c["imagePullPolicy"] = pluginImage, "IfNotPresent"
			if err := unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"); err != nil {
				return nil, err
			}
			deployment = true
		case "Secret":
			if _, ok, _ := unstructured.NestedString(o.Object, "data", "SIDECAR_IMAGE"); ok {
				if err := unstructured.SetNestedField(o.Object, base64.StdEncoding.EncodeToString([]byte(sidecarImage)), "data", "SIDECAR_IMAGE"); err != nil {
					return nil, err
				}
				sidecarSecret = true
			}
		case "Service":
			ann := o.GetAnnotations()
			if ann[annotationServerSecret] == "" || ann[annotationClientSecret] == "" {
				continue
			}
			server, err := selfSigned(o.GetName(), []string{o.GetName(), o.GetName() + "." + o.GetNamespace() + ".svc"}, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return nil, err
			}
			client, err := selfSigned(o.GetName()+"-client", nil, x509.ExtKeyUsageClientAuth)
			if err != nil {
				return nil, err
			}
			secrets = append(secrets, tlsSecret(o.GetNamespace(), ann[annotationServerSecret], server),
				tlsSecret(o.GetNamespace(), ann[annotationClientSecret], client))
			service = true
		}
		out = append(out, o)
	}
	if !deployment || !sidecarSecret || !service {
		return nil, fmt.Errorf("the plugin manifest lacks its Deployment (%t), the Secret naming SIDECAR_IMAGE (%t) or the Service annotated with its TLS Secrets (%t)",
			deployment, sidecarSecret, service)
	}
	return append(out, secrets...), nil
}

type keyPair struct{ cert, key []byte }

func selfSigned(cn string, dnsNames []string, usage x509.ExtKeyUsage) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("making a key for %s: %w", cn, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return keyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: dnsNames,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return keyPair{}, fmt.Errorf("signing the certificate of %s: %w", cn, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func tlsSecret(namespace, name string, kp keyPair) *unstructured.Unstructured {
	enc := base64.StdEncoding.EncodeToString
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"data":     map[string]any{"tls.crt": enc(kp.cert), "tls.key": enc(kp.key), "ca.crt": enc(kp.cert)},
	}}
}
