package render

import (
	"fmt"
	"sort"
	"strings"
)

// UnpinnedImage is one use of an image the train does not pin: an
// air-gapped node cannot pull it (the layer using it never becomes
// Ready), and online it is whatever the registry serves that day.
type UnpinnedImage struct {
	Image     string `json:"image"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// File is the object's file in the rendered repository.
	File string `json:"file"`
	// Field is where in the object the image is named.
	Field string `json:"field"`
	// Reason says how the reference differs from what the train pins.
	Reason string `json:"reason"`
	// Fix says what to change.
	Fix string `json:"fix"`
}

func (u UnpinnedImage) String() string {
	return fmt.Sprintf("%s %s/%s (%s, %s) uses %s: %s; %s", u.Kind, u.Namespace, u.Name, u.File, u.Field, u.Image, u.Reason, u.Fix)
}

// UnpinnedImagesError is Render's error when rendered objects use images
// the train does not pin (unless Options.CollectUnpinned).
type UnpinnedImagesError struct {
	Train  string
	Images []UnpinnedImage
}

func (e *UnpinnedImagesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rendering: %d uses of images train %s does not pin (an air-gapped node cannot pull them):", len(e.Images), e.Train)
	for _, u := range e.Images {
		b.WriteString("\n  - " + u.String())
	}
	return b.String()
}

// objectImages are the image uses of one kept object, for the check once
// its file is named.
type objectImages struct {
	comp *component
	obj  Object
	uses []imageUse
}

// dormantImageFlags are operator flags giving the default image of a
// feature, pulled only once an object asks for that feature: the image is
// used only when the desired state has such an object (used says).
// kube-prometheus-stack always passes Thanos' image to the Prometheus
// operator; the appliance runs no Thanos.
var dormantImageFlags = map[string]func(o Object) bool{
	"--thanos-default-base-image": func(o Object) bool {
		if o.Group() != "monitoring.coreos.com" {
			return false
		}
		spec, _ := o["spec"].(map[string]any)
		return o.Kind() == "ThanosRuler" || (o.Kind() == "Prometheus" && spec["thanos"] != nil)
	},
}

// dormant reports whether a use names the default image of a feature no
// rendered object uses.
func (r *renderer) dormant(u imageUse) bool {
	used, ok := dormantImageFlags[u.flag]
	if !ok {
		return false
	}
	for _, c := range r.components {
		for _, o := range c.objects {
			if used(o) {
				return false
			}
		}
	}
	return true
}

// checkImages lists every use of an image the train does not pin, each
// with its object, file and the fix.
func (r *renderer) checkImages() []UnpinnedImage {
	p := trainPins(r.opts.Train)
	var out []UnpinnedImage
	for _, oi := range r.imageUses {
		for _, u := range oi.uses {
			if r.dormant(u) {
				continue
			}
			ok, why := p.check(u.ref)
			if ok {
				continue
			}
			out = append(out, UnpinnedImage{
				Image: u.ref, Kind: oi.obj.Kind(), Namespace: oi.obj.Namespace(), Name: oi.obj.Name(),
				File: r.objectFiles[oi.comp.dir+"|"+oi.obj.ID()], Field: u.field, Reason: why,
				Fix: imageFix(oi.comp, u.ref, p),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Field < out[j].Field
	})
	return out
}

// imageFix says what to change: the chart's values (to an image the train
// pins, naming it when the train has that repository under another tag)
// or the train.
func imageFix(c *component, ref string, p pins) string {
	pin := fmt.Sprintf("pin %s in train %s's images (then `make lock`)", ref, p.train)
	use := "an image the train pins"
	if r, err := parseImageRef(ref); err == nil && len(p.byRepo[r.repo]) > 0 {
		var alts []string
		for _, have := range p.byRepo[r.repo] {
			alts = append(alts, have.repo+":"+have.tag)
		}
		use = strings.Join(alts, " or ")
	}
	if c.Chart == "" {
		return fmt.Sprintf("the appliance's own manifests must use %s (through the values context), or %s", use, pin)
	}
	return fmt.Sprintf("set chart %s %s's values (installer/render) so it uses %s, or %s", c.Chart, c.Version, use, pin)
}
