package render

import "fmt"

// Where a pod that trusts the appliance CA finds it: the CA export's
// ConfigMap (key ca.crt) mounted at caMountPath; for Python, the public
// roots plus that CA in trustBundle, since REQUESTS_CA_BUNDLE and
// SSL_CERT_FILE replace the default roots rather than add to them.
const (
	caVolume       = "appliance-ca"
	caMountPath    = "/etc/appliance-ca"
	caFile         = caMountPath + "/ca.crt"
	trustVolume    = "trust-bundle"
	trustBundleDir = "/etc/docs-appliance/trust"
	trustBundle    = trustBundleDir + "/ca-certificates.crt"
)

// caTrustNamespaces are where the CA export publishes the appliance CA
// certificate: kube-public for the operator, and the namespaces of pods
// that call what it signs (the blackbox exporter, Docs).
func caTrustNamespaces(v *valuesContext) []string {
	out := []string{caExportNamespace}
	if v.observability() {
		out = append(out, nsMonitoring)
	}
	if _, ok := v.Train.Chart("docs"); ok {
		out = append(out, docsNamespace)
	}
	return out
}

// trustBundleScript writes the Python bundle: certifi's roots (what
// requests uses by default) and the appliance CA.
const trustBundleScript = `cat "$(python -c 'import certifi; print(certifi.where())')" ` + caFile + ` > ` + trustBundle

// trustCAPython makes a Python pod trust the appliance CA: an init
// container (the pod's own image) builds the bundle, every container
// reads it through SSL_CERT_FILE (ssl, urllib, httpx) and
// REQUESTS_CA_BUNDLE (requests).
func trustCAPython(o Object, res m) error {
	spec, err := podSpec(o)
	if err != nil {
		return err
	}
	cs := containers(spec, "containers")
	if len(cs) == 0 {
		return fmt.Errorf("no container")
	}
	init := m{
		"name":            "trust-bundle",
		"image":           cs[0]["image"],
		"imagePullPolicy": "IfNotPresent",
		"command":         list{"/bin/sh", "-c", trustBundleScript},
		"resources":       res,
		"volumeMounts": list{
			m{"name": caVolume, "mountPath": caMountPath, "readOnly": true},
			m{"name": trustVolume, "mountPath": trustBundleDir},
		},
	}
	if sc, ok := cs[0]["securityContext"]; ok {
		init["securityContext"] = sc
	}
	spec["initContainers"] = append(asList(spec["initContainers"]), init)
	addVolume(spec, m{"name": caVolume, "configMap": m{"name": caExport, "items": list{m{"key": "ca.crt", "path": "ca.crt"}}}})
	addVolume(spec, m{"name": trustVolume, "emptyDir": m{"sizeLimit": "4Mi"}})
	for _, c := range cs {
		addMount(c, m{"name": trustVolume, "mountPath": trustBundleDir, "readOnly": true})
		setEnv(c, "SSL_CERT_FILE", trustBundle)
		setEnv(c, "REQUESTS_CA_BUNDLE", trustBundle)
	}
	return nil
}

// trustCANode makes a Node.js pod trust the appliance CA, added to its
// built-in roots by NODE_EXTRA_CA_CERTS.
func trustCANode(o Object) error {
	spec, err := podSpec(o)
	if err != nil {
		return err
	}
	addVolume(spec, m{"name": caVolume, "configMap": m{"name": caExport, "items": list{m{"key": "ca.crt", "path": "ca.crt"}}}})
	for _, c := range containers(spec, "containers") {
		addMount(c, m{"name": caVolume, "mountPath": caMountPath, "readOnly": true})
		setEnv(c, "NODE_EXTRA_CA_CERTS", caFile)
	}
	return nil
}

// podSpec is the pod template's spec of a Deployment or Job.
func podSpec(o Object) (m, error) {
	spec, _ := o["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	ps, ok := tmpl["spec"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s %s has no pod template", o.Kind(), o.Name())
	}
	return ps, nil
}

// podAnnotations are the pod template's annotations, created if absent.
func podAnnotations(o Object) m {
	spec, _ := o["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	md, ok := tmpl["metadata"].(map[string]any)
	if !ok {
		md = m{}
		tmpl["metadata"] = md
	}
	a, ok := md["annotations"].(map[string]any)
	if !ok {
		a = m{}
		md["annotations"] = a
	}
	return a
}

func containers(spec m, key string) []m {
	var out []m
	for _, c := range asList(spec[key]) {
		if cm, ok := c.(map[string]any); ok {
			out = append(out, cm)
		}
	}
	return out
}

// setEnv sets one variable of a container (a string value, or a
// valueFrom map), replacing any variable of that name.
func setEnv(c m, name string, value any) {
	entry := m{"name": name}
	if s, ok := value.(string); ok {
		entry["value"] = s
	} else {
		entry["valueFrom"] = value
	}
	var kept list
	for _, e := range asList(c["env"]) {
		if em, ok := e.(map[string]any); ok && em["name"] == name {
			continue
		}
		kept = append(kept, e)
	}
	c["env"] = append(kept, entry)
}

func addVolume(spec m, vol m) {
	for _, v := range asList(spec["volumes"]) {
		if vm, ok := v.(map[string]any); ok && vm["name"] == vol["name"] {
			return
		}
	}
	spec["volumes"] = append(asList(spec["volumes"]), vol)
}

func addMount(c m, mount m) {
	for _, v := range asList(c["volumeMounts"]) {
		if vm, ok := v.(map[string]any); ok && vm["mountPath"] == mount["mountPath"] {
			return
		}
	}
	c["volumeMounts"] = append(asList(c["volumeMounts"]), mount)
}
