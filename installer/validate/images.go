package validate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// imageUse is one image an object names, and the field naming it.
type imageUse struct{ ref, at string }

// qualifiedImage is registry/path[:tag][@digest]: how an image hides in an env value or an
// argument (a bare host:port/path is an address, not an image: it needs a tag or digest).
var qualifiedImage = regexp.MustCompile(`^(?:localhost|[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+)(?::[0-9]+)?/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64}|:[\w][\w.-]{0,127}@sha256:[0-9a-f]{64})$`)

// imageUses finds the images an object names: every image and imageName field (containers of
// any pod template, custom resources' image fields), {registry, repository, tag, digest}
// images, and images handed in env values and arguments (--solver-image=REF). Kyverno
// policies hold patterns, Secrets and ConfigMaps hold text.
func imageUses(o object) []imageUse {
	switch {
	case o.key.group == "kyverno.io", o.key.group == "" && (o.key.kind == "Secret" || o.key.kind == "ConfigMap"):
		return nil
	}
	var out []imageUse
	walkImages(o.obj, "", &out)
	return out
}

func walkImages(v any, at string, out *[]imageUse) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			p := at + "." + k
			switch val := x[k].(type) {
			case string:
				if (k == "image" || k == "imageName") && val != "" && !strings.ContainsAny(val, "*?{}! ") {
					*out = append(*out, imageUse{val, p})
				} else if k == "value" && qualifiedImage.MatchString(val) {
					*out = append(*out, imageUse{val, p})
				}
			case map[string]any:
				if k == "image" {
					if ref, ok := composedImage(val); ok {
						*out = append(*out, imageUse{ref, p})
						continue
					}
				}
				walkImages(val, p, out)
			case []any:
				if k == "args" || k == "command" {
					for i, a := range val {
						s, _ := a.(string)
						if _, after, ok := strings.Cut(s, "="); ok && strings.HasPrefix(s, "-") {
							s = after
						}
						if qualifiedImage.MatchString(s) {
							*out = append(*out, imageUse{s, fmt.Sprintf("%s[%d]", p, i)})
						}
					}
					continue
				}
				walkImages(val, p, out)
			}
		}
	case []any:
		for i, e := range x {
			walkImages(e, fmt.Sprintf("%s[%d]", at, i), out)
		}
	}
}

// composedImage reads an {registry, repository, tag, digest} image.
func composedImage(m map[string]any) (string, bool) {
	repo, _ := m["repository"].(string)
	if repo == "" {
		return "", false
	}
	if reg, _ := m["registry"].(string); reg != "" {
		repo = reg + "/" + repo
	}
	if tag, _ := m["tag"].(string); tag != "" {
		repo += ":" + tag
	}
	if d, _ := m["digest"].(string); d != "" {
		repo += "@" + d
	}
	return repo, true
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// pins are a train's images by normalised repository.
type pins struct {
	train  string
	byRepo map[string][]bundles.Image
}

func trainPins(t *bundles.Train) *pins {
	if t == nil {
		return nil
	}
	p := &pins{train: t.Name, byRepo: map[string][]bundles.Image{}}
	for _, im := range t.Images {
		if r, err := name.ParseReference(im.Reference); err == nil {
			repo := r.Context().Name()
			p.byRepo[repo] = append(p.byRepo[repo], im)
		}
	}
	return p
}

// parsedRef is an image reference's repository, tag and digest.
type parsedRef struct{ repo, tag, digest string }

func parseRef(s string) (parsedRef, error) {
	var r parsedRef
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		rest, r.digest = rest[:i], rest[i+1:]
		if _, err := name.NewDigest("example.invalid/x@" + r.digest); err != nil {
			return r, fmt.Errorf("%q has no valid digest", s)
		}
	}
	ref, err := name.ParseReference(rest)
	if err != nil {
		return r, fmt.Errorf("%q is not an image reference: %v", s, err)
	}
	r.repo = ref.Context().Name()
	if t, ok := ref.(name.Tag); ok && strings.Contains(rest[strings.LastIndex(rest, "/")+1:], ":") {
		r.tag = t.TagStr()
	}
	return r, nil
}

// checkImages: every image is pinned by digest and the train pins it.
func checkImages(o object, p *pins, rep *Report) {
	labels, _ := o.obj["metadata"].(map[string]any)["labels"].(map[string]any)
	flux := labels["app.kubernetes.io/part-of"] == "flux"
	for _, u := range imageUses(o) {
		add := func(rule, msg, fix string) {
			rep.add(Finding{File: o.file, Object: o.key.String(), Rule: rule, Message: u.at[1:] + ": " + msg, Fix: fix})
		}
		r, err := parseRef(u.ref)
		if err != nil {
			add(RuleImageDigest, err.Error(), "give a reference repository:tag@sha256:digest the train pins")
			continue
		}
		if r.digest == "" && !flux {
			add(RuleImageDigest, fmt.Sprintf("image %s is not pinned by digest: what runs could change under the same name, and an air-gapped node cannot pull it", u.ref),
				"pin it as repository:tag@sha256:digest, with the digest the train's images: list gives it")
			if p == nil {
				continue
			}
		}
		if p == nil {
			continue
		}
		if ok, why := p.pinned(r, flux); !ok {
			add(RuleImageTrain, fmt.Sprintf("image %s is not one train %s pins: %s", u.ref, p.train, why),
				"use the image the train pins for this repository, or a train that pins this one")
		}
	}
}

// pinned: same repository, same tag when the use has one, same digest when it has one (a Flux
// component: the tag alone).
func (p *pins) pinned(r parsedRef, tagOnly bool) (bool, string) {
	have := p.byRepo[r.repo]
	if len(have) == 0 {
		return false, "it pins no " + r.repo + " image"
	}
	var pinned []string
	for _, im := range have {
		pinned = append(pinned, im.Pinned())
		if r.tag != "" && r.tag != im.Tag() {
			continue
		}
		if tagOnly && r.digest == "" || r.digest != "" && r.digest == im.Digest {
			return true, ""
		}
	}
	return false, "it pins " + strings.Join(pinned, ", ")
}
