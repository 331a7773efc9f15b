package render

import (
	"fmt"
	"path"
	"sort"
)

// Effective are the objects the environment applies, one file each at the path of its
// component's folder (infrastructure/<component>/, apps/docs/, <component>/crds/,
// infrastructure/namespaces/), whether the overlay shares it from the base, patches it or
// holds it — plus the Secrets' files. Checks of a render's objects (the release gate, the
// tests of their content) read these rather than base files and patches;
// TestOverlaysBuildToTheRender proves the overlays build to exactly them.
func (r *Result) Effective() ([]File, error) {
	var out []File
	for _, u := range r.units {
		dir := u.key
		if dir == "namespaces" {
			dir = "infrastructure/namespaces"
		}
		names := unitFiles(u.objs)
		for _, o := range u.objs {
			data, err := o.Marshal()
			if err != nil {
				return nil, fmt.Errorf("encoding %s %s: %w", o.Kind(), o.Name(), err)
			}
			out = append(out, File{Path: path.Join(dir, names[o.ID()]), Content: data})
		}
	}
	for _, f := range r.Files {
		if f.Secret {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
