package render

import (
	"fmt"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/config"
)

// Names the TLS objects agree on.
const (
	// tlsSecret holds the public certificate the Gateway serves, in nsEdge.
	tlsSecret = "docs-tls"
	// caSecret is the appliance CA (appliance-ca mode), in cert-manager's
	// namespace: a CA ClusterIssuer reads its key pair from there.
	caSecret = "appliance-ca"
	// caExport is the ConfigMap publishing the appliance CA certificate.
	caExport = "appliance-ca"
	// caExportNamespace is world-readable by convention (cluster-info lives
	// there): the operator and any pod can fetch the CA to trust it.
	caExportNamespace = "kube-public"
)

// certManagerValues: CRDs from the chart (rendered into the crds layer),
// the Gateway API solver on, images pinned, leader election in its own
// namespace (k3s defaults it to kube-system, which its Role does not cover).
func certManagerValues(v *valuesContext) (map[string]any, error) {
	ns := v.chartNamespace("cert-manager", "cert-manager")
	controller, err := v.imageValues("jetstack/cert-manager-controller", false, "digest")
	if err != nil {
		return nil, err
	}
	webhook, err := v.imageValues("jetstack/cert-manager-webhook", false, "digest")
	if err != nil {
		return nil, err
	}
	cainjector, err := v.imageValues("jetstack/cert-manager-cainjector", false, "digest")
	if err != nil {
		return nil, err
	}
	solver, err := v.imageValues("jetstack/cert-manager-acmesolver", false, "digest")
	if err != nil {
		return nil, err
	}
	startup, err := v.imageValues("jetstack/cert-manager-startupapicheck", false, "digest")
	if err != nil {
		return nil, err
	}
	op := v.Profile.Workload("operator")
	obs := v.observability()
	return map[string]any{
		"crds":         m{"enabled": true, "keep": true},
		"replicaCount": op.Replicas,
		"image":        controller,
		"resources":    op.Resources(),
		"global":       m{"leaderElection": m{"namespace": ns}},
		// HTTP-01 through Gateway API HTTPRoutes (no Ingress controller here).
		"config": m{
			"apiVersion":       "controller.config.cert-manager.io/v1alpha1",
			"kind":             "ControllerConfiguration",
			"enableGatewayAPI": true,
		},
		"webhook":             m{"replicaCount": op.Replicas, "image": webhook, "resources": op.Resources()},
		"cainjector":          m{"replicaCount": op.Replicas, "image": cainjector, "resources": op.Resources()},
		"acmesolver":          m{"image": solver},
		"startupapicheck":     m{"image": startup, "resources": v.Profile.Workload("job").Resources()},
		"prometheus":          m{"enabled": obs, "servicemonitor": m{"enabled": obs}},
		"podDisruptionBudget": m{"enabled": op.Replicas > 1},
	}, nil
}

// tlsComponent issues the public certificate per tls.mode:
//   - acme: a ClusterIssuer solving HTTP-01 through the Gateway's http listener;
//   - appliance-ca: a self-signed root (10 years) that signs the server
//     certificate, its certificate published in kube-public for the operator
//     to import into browsers and for in-cluster probes to trust;
//   - provided: the operator's certificate and key as a SOPS Secret.
func (r *renderer) tlsComponent(v *valuesContext) (*component, error) {
	cfg := v.Config
	cmNS := v.chartNamespace("cert-manager", "cert-manager")
	c := &component{Component: Component{Name: "certificates", Layer: "platform", Namespace: nsEdge}, dir: "infrastructure/certificates"}
	hosts := strs(cfg.Hosts())
	serverCert := func(issuer string) Object {
		return newObject("cert-manager.io/v1", "Certificate", nsEdge, tlsSecret, "edge").with("spec", m{
			"secretName": tlsSecret,
			"commonName": cfg.Domain,
			"dnsNames":   hosts,
			"issuerRef":  m{"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
			// A fresh key at every renewal: a leaked key dies with its certificate.
			"privateKey":  m{"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
			"duration":    "2160h0m0s",
			"renewBefore": "720h0m0s",
		})
	}
	switch cfg.TLS.Mode {
	case config.TLSACME:
		issuer := newObject("cert-manager.io/v1", "ClusterIssuer", "", "acme", "edge").with("spec", m{
			"acme": m{
				"server":              cfg.TLS.ACMEServer,
				"email":               cfg.TLS.ACMEEmail,
				"privateKeySecretRef": m{"name": "acme-account-key"},
				"solvers": list{m{"http01": m{"gatewayHTTPRoute": m{
					"parentRefs": list{m{
						"group": "gateway.networking.k8s.io", "kind": "Gateway",
						"name": gatewayName, "namespace": nsEdge, "sectionName": "http",
					}},
				}}}},
			},
		})
		c.objects = append(c.objects, issuer, serverCert("acme"))
		// The ACME order needs DNS and port 80 reachable from the internet:
		// a pending certificate must not hold back the database and Docs,
		// so only the issuer gates the layer; doctor reports the order.
		c.health = append(c.health, refOf(issuer))
	case config.TLSApplianceCA:
		selfSigned := newObject("cert-manager.io/v1", "ClusterIssuer", "", "selfsigned", "edge").with("spec", m{"selfSigned": m{}})
		root := newObject("cert-manager.io/v1", "Certificate", cmNS, caSecret, "edge").with("spec", m{
			"isCA":       true,
			"commonName": "docs-appliance CA for " + cfg.Domain,
			"subject":    m{"organizations": list{"docs-appliance"}},
			"secretName": caSecret,
			// Ten years: re-importing a root into every browser is costly;
			// the server certificate it signs rotates every 90 days.
			"duration":    "87600h0m0s",
			"renewBefore": "8760h0m0s",
			"privateKey":  m{"algorithm": "ECDSA", "size": 384},
			"issuerRef":   m{"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "selfsigned"},
		})
		caIssuer := newObject("cert-manager.io/v1", "ClusterIssuer", "", "appliance-ca", "edge").with("spec", m{"ca": m{"secretName": caSecret}})
		leaf := serverCert("appliance-ca")
		c.objects = append(c.objects, selfSigned, root, caIssuer, leaf)
		export, err := caExportObjects(v, cmNS)
		if err != nil {
			return nil, err
		}
		c.objects = append(c.objects, export...)
		c.health = append(c.health, refOf(selfSigned), refOf(root), refOf(caIssuer), refOf(leaf),
			ref{APIVersion: "batch/v1", Kind: "Job", Name: caExport, Namespace: cmNS})
	case config.TLSProvided:
		// LoadInputs checked tls.certFile and tls.keyFile and put the PEM in
		// the store; the Secret's encrypted file changes only when they do
		// (Write keeps an unchanged one byte for byte), so replacing the
		// files and installing again rotates this Secret alone. Envoy
		// Gateway follows the Secret: no pod restarts.
		cert, err := r.storeValue(config.SecretTLSCertificate)
		if err != nil {
			return nil, fmt.Errorf("rendering the provided certificate (tls.certFile): %w", err)
		}
		key, err := r.storeValue(config.SecretTLSPrivateKey)
		if err != nil {
			return nil, fmt.Errorf("rendering the provided certificate's key (tls.keyFile): %w", err)
		}
		r.addSecret(secretDef{Component: "certificates", Namespace: nsEdge, Name: tlsSecret, Type: "kubernetes.io/tls",
			Data: map[string]string{"tls.crt": cert, "tls.key": key}})
	default:
		return nil, fmt.Errorf("rendering certificates: tls.mode %q is not known", cfg.TLS.Mode)
	}
	return c, nil
}

// caExportScript copies the CA certificate of cert-manager's Secret into
// a ConfigMap in each target namespace.
const caExportScript = `set -euo pipefail
# Wait for cert-manager to issue the root (a get by name: the Role grants
# nothing else), then publish its certificate.
crt=""
for _ in $(seq 1 180); do
  crt=$(kubectl -n "$CA_NAMESPACE" get secret "$CA_SECRET" -o jsonpath='{.data.tls\.crt}' 2>/dev/null | base64 -d) && [ -n "$crt" ] && break
  sleep 5
done
[ -n "$crt" ] || { echo "secret $CA_NAMESPACE/$CA_SECRET holds no certificate after 15 minutes" >&2; exit 1; }
for ns in $TARGET_NAMESPACES; do
  kubectl -n "$ns" create configmap "$EXPORT_NAME" --from-literal=ca.crt="$crt" --dry-run=client -o yaml \
    | kubectl apply --server-side --field-manager=appliance-ca-export --force-conflicts -f -
done
`

// caExportObjects publish the appliance CA certificate (never its key) as
// a ConfigMap: once at install (a Job Flux waits for) and daily (a CronJob
// that follows a renewal of the root). cert-manager can only write
// Secrets, and the operator, the install summary and in-cluster probes
// need the certificate where reading it exposes nothing.
func caExportObjects(v *valuesContext, cmNS string) ([]Object, error) {
	kubectl, err := v.image("kubectl")
	if err != nil {
		return nil, err
	}
	targets := caTrustNamespaces(v)
	const name = caExport
	pod := func() m {
		return m{
			"serviceAccountName":           name,
			"automountServiceAccountToken": true,
			"restartPolicy":                "OnFailure",
			"securityContext":              restrictedPod(65532),
			"containers": list{m{
				"name":            "export",
				"image":           kubectl,
				"imagePullPolicy": "IfNotPresent",
				"command":         list{"/bin/bash", "-c", caExportScript},
				"env": env(map[string]any{
					"CA_NAMESPACE": cmNS, "CA_SECRET": caSecret, "EXPORT_NAME": caExport,
					"TARGET_NAMESPACES": strings.Join(targets, " "),
					// kubectl keeps its discovery cache under $HOME.
					"HOME": "/tmp",
				}),
				"resources":       resources(v.Profile, "job"),
				"securityContext": restrictedContainer(),
				"volumeMounts":    list{tmpMount()},
			}},
			"volumes": list{tmpVolume()},
		}
	}
	objs := []Object{
		serviceAccount(cmNS, name, "edge", true),
		// Read exactly one Secret: the CA's.
		role(cmNS, name, "edge", m{"apiGroups": list{""}, "resources": list{"secrets"}, "resourceNames": list{caSecret}, "verbs": list{"get"}}),
		roleBinding(cmNS, name, "edge", "Role", name, cmNS, name),
	}
	for _, ns := range targets {
		objs = append(objs,
			role(ns, name, "edge",
				m{"apiGroups": list{""}, "resources": list{"configmaps"}, "resourceNames": list{caExport}, "verbs": list{"get", "patch", "update"}},
				// create cannot be limited by name; the field manager keeps it to one object.
				m{"apiGroups": list{""}, "resources": list{"configmaps"}, "verbs": list{"create"}}),
			roleBinding(ns, name, "edge", "Role", name, cmNS, name))
	}
	objs = append(objs,
		newObject("batch/v1", "Job", cmNS, name, "edge").with("spec", m{
			"backoffLimit": 6,
			"template":     m{"metadata": m{"labels": selectorFor(name)}, "spec": pod()},
		}),
		newObject("batch/v1", "CronJob", cmNS, name, "edge").with("spec", m{
			"schedule":                   "17 3 * * *",
			"concurrencyPolicy":          "Forbid",
			"successfulJobsHistoryLimit": 1,
			"failedJobsHistoryLimit":     1,
			"jobTemplate": m{"spec": m{
				"backoffLimit": 3,
				"template":     m{"metadata": m{"labels": selectorFor(name)}, "spec": pod()},
			}},
		}),
	)
	return objs, nil
}
