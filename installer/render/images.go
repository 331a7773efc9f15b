package render

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// imageUse is one image reference an object names, and the field naming it.
type imageUse struct {
	ref   string
	field string
	// flag is the command-line flag naming the image (--x-image=ref), if any.
	flag string
}

// imageUses finds every image an object names, wherever images hide:
//   - the image of every container, init container and ephemeral
//     container, in pods, Deployments, Jobs and CronJobs' job templates;
//   - the image fields of the custom resources operators turn into pods
//     (a CloudNativePG Cluster's imageName, a Keycloak's image, an
//     EnvoyProxy's container image, a Redis' kubernetesConfig image), as a
//     string or as {registry, repository, tag, digest};
//   - images handed to an operator in an environment variable or an
//     argument (RELATED_IMAGE_KEYCLOAK, --acme-http01-solver-image=...);
//   - the objects a ConfigMap carries for a controller or a script to
//     apply (Envoy Gateway's configuration, the restore check's Cluster).
//
// Kyverno policies hold image patterns, not images; Secrets hold text.
func imageUses(o Object) []imageUse {
	switch {
	case o.Group() == "kyverno.io" || o.Group() == "policies.kyverno.io":
		return nil
	case o.Group() == "" && o.Kind() == "Secret":
		return nil
	case o.Group() == "" && o.Kind() == "ConfigMap":
		return configMapImageUses(o)
	}
	var out []imageUse
	walkImages(map[string]any(o), "", &out)
	return out
}

func walkImages(v any, at string, out *[]imageUse) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			c, p := t[k], join(at, k)
			switch k {
			case "image", "imageName":
				if s, ok := c.(string); ok {
					if s != "" {
						*out = append(*out, imageUse{s, p, ""})
					}
					continue
				}
				if s, ok := composedImage(c); ok {
					*out = append(*out, imageUse{s, p, ""})
					continue
				}
			case "env":
				for i, e := range asList(c) {
					em, _ := e.(map[string]any)
					if s, ok := em["value"].(string); ok && looksLikeImage(s) {
						*out = append(*out, imageUse{s, fmt.Sprintf("%s%s.value", p, elem(em, i)), ""})
					}
				}
			case "args", "command":
				for i, a := range asList(c) {
					s, _ := a.(string)
					for _, tok := range strings.Fields(s) {
						tok = strings.Trim(tok, `"'`)
						flag := ""
						if before, after, ok := strings.Cut(tok, "="); ok {
							flag, tok = before, after
						}
						if looksLikeImage(tok) {
							*out = append(*out, imageUse{tok, fmt.Sprintf("%s[%d]", p, i), flag})
						}
					}
				}
			}
			walkImages(c, p, out)
		}
	case []any:
		for i, c := range t {
			cm, _ := c.(map[string]any)
			walkImages(c, at+elem(cm, i), out)
		}
	}
}

// composedImage reads an {registry, repository, tag, digest} image.
func composedImage(v any) (string, bool) {
	im, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	repo, _ := im["repository"].(string)
	if repo == "" {
		return "", false
	}
	if reg, _ := im["registry"].(string); reg != "" {
		repo = reg + "/" + repo
	}
	if tag, _ := im["tag"].(string); tag != "" {
		repo += ":" + tag
	}
	if d, _ := im["digest"].(string); d != "" {
		repo += "@" + d
	}
	return repo, true
}

// configMapImageUses scans the Kubernetes objects a ConfigMap's values
// hold (YAML documents with an apiVersion and a kind); other text
// (scripts, dashboards, nginx configuration) names no image.
func configMapImageUses(o Object) []imageUse {
	data, _ := o["data"].(map[string]any)
	var out []imageUse
	for _, k := range sortedKeys(data) {
		s, _ := data[k].(string)
		if !strings.Contains(s, "apiVersion") || !strings.Contains(s, "kind") {
			continue
		}
		for _, inner := range embeddedObjects(s) {
			var uses []imageUse
			walkImages(map[string]any(inner), "", &uses)
			for _, u := range uses {
				out = append(out, imageUse{u.ref, fmt.Sprintf("data[%s] %s %s", k, inner.Kind(), u.field), u.flag})
			}
		}
	}
	return out
}

// embeddedObjects are the YAML documents of a text that are objects: an
// apiVersion and a kind (a controller's configuration, as Envoy Gateway's
// EnvoyGateway, has no name). Text that is not YAML holds none.
func embeddedObjects(text string) []Object {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(text), 4096)
	var out []Object
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return out // io.EOF, or text that is not YAML
		}
		if o := Object(doc); o.APIVersion() != "" && o.Kind() != "" {
			out = append(out, o)
		}
	}
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

// elem names a list element by its name when it has one (containers, env).
func elem(m map[string]any, i int) string {
	if n, ok := m["name"].(string); ok && n != "" {
		return "[" + n + "]"
	}
	return "[" + strconv.Itoa(i) + "]"
}

func asList(v any) []any { l, _ := v.([]any); return l }

func sortedKeys(mm map[string]any) []string {
	out := make([]string, 0, len(mm))
	for k := range mm {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Image references, as the container runtime reads them.
var (
	domainRe    = `(?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+|[a-zA-Z0-9-]+:[0-9]+)(?::[0-9]+)?`
	componentRe = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	tagRe       = `[\w][\w.-]{0,127}`
	digestRe    = `sha256:[0-9a-f]{64}`
	// qualifiedImage is registry/path[:tag][@digest]: how an image hides
	// in a string that is not an image field.
	qualifiedImage = regexp.MustCompile(`^` + domainRe + `/` + componentRe + `(?:/` + componentRe + `)*(?::` + tagRe + `)?(?:@` + digestRe + `)?$`)
	pathRe         = regexp.MustCompile(`^` + componentRe + `(?:/` + componentRe + `)*$`)
	tagOnlyRe      = regexp.MustCompile(`^` + tagRe + `$`)
	digestOnlyRe   = regexp.MustCompile(`^` + digestRe + `$`)
)

// looksLikeImage reports whether a string in an env value or argument is
// an image: registry host, path, and a tag or digest (a bare host:port/path
// is an address, not an image).
func looksLikeImage(s string) bool {
	if strings.Contains(s, "://") || !qualifiedImage.MatchString(s) {
		return false
	}
	r, err := parseImageRef(s)
	return err == nil && (r.tag != "" || r.digest != "")
}

// imageRef is a parsed image reference, its repository normalised as the
// runtime does (docker.io/library/nginx for nginx).
type imageRef struct {
	repo, tag, digest string
}

func parseImageRef(s string) (imageRef, error) {
	var r imageRef
	name := s
	if i := strings.Index(name, "@"); i >= 0 {
		name, r.digest = name[:i], name[i+1:]
		if !digestOnlyRe.MatchString(r.digest) {
			return r, fmt.Errorf("%q has no valid sha256 digest", s)
		}
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, r.tag = name[:i], name[i+1:]
		if !tagOnlyRe.MatchString(r.tag) {
			return r, fmt.Errorf("%q has no valid tag", s)
		}
	}
	domain, rest, ok := strings.Cut(name, "/")
	if !ok || !(strings.ContainsAny(domain, ".:") || domain == "localhost") {
		domain, rest = "docker.io", name
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	if !pathRe.MatchString(rest) {
		return r, fmt.Errorf("%q is not a valid image name", s)
	}
	r.repo = domain + "/" + rest
	return r, nil
}

// pins are a train's images by normalised repository.
type pins struct {
	train  string
	byRepo map[string][]imageRef
}

func trainPins(t *bundles.Train) pins {
	p := pins{train: t.Name, byRepo: map[string][]imageRef{}}
	for _, im := range t.Images {
		r, err := parseImageRef(im.Reference)
		if err != nil {
			continue // train validation reports it
		}
		r.digest = im.Digest
		p.byRepo[r.repo] = append(p.byRepo[r.repo], r)
	}
	return p
}

// check says whether ref is an image the train pins: same repository and
// tag when ref has a tag, same digest when ref has one. repo:tag,
// repo:tag@digest and repo@digest of a pinned repo:tag@digest all are;
// another tag (:v1.10.2-distroless for :v1.10.2) is not, nor is a
// reference without tag or digest (:latest). why says what differs.
func (p pins) check(ref string) (ok bool, why string) {
	r, err := parseImageRef(ref)
	if err != nil {
		return false, err.Error()
	}
	have := p.byRepo[r.repo]
	if len(have) == 0 {
		return false, fmt.Sprintf("train %s pins no %s image", p.train, r.repo)
	}
	if r.tag == "" && r.digest == "" {
		return false, "it has neither tag nor digest: it means :latest, which changes under the appliance"
	}
	var tags []string
	for _, pin := range have {
		tagOK := r.tag == "" || r.tag == pin.tag
		digestOK := r.digest == "" || r.digest == pin.digest
		if tagOK && digestOK {
			return true, ""
		}
		if tagOK && r.tag != "" {
			return false, fmt.Sprintf("its digest is not the one train %s pins for %s:%s (%s)", p.train, pin.repo, pin.tag, orNone(pin.digest))
		}
		tags = append(tags, ":"+pin.tag)
	}
	if r.tag == "" {
		return false, fmt.Sprintf("train %s pins no %s image of that digest", p.train, r.repo)
	}
	return false, fmt.Sprintf("train %s pins %s only as %s", p.train, r.repo, strings.Join(tags, ", "))
}

func orNone(d string) string {
	if d == "" {
		return "no digest yet: the train is unlocked"
	}
	return d
}
