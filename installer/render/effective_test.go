package render

import (
	"path"
	"sort"
	"testing"
)

// effectiveFiles are the objects the environment applies, each at the path of its
// component's folder (infrastructure/<component>/, apps/docs/, <component>/crds/,
// infrastructure/namespaces/), whether the overlay shares it from the base, patches it or
// holds it: the tests of objects' content read them there. TestOverlaysBuildToTheRender
// checks that the overlays build to exactly these objects.
func effectiveFiles(t testing.TB, res *Result) []File {
	t.Helper()
	var out []File
	for _, u := range res.units {
		dir := u.key
		if dir == "namespaces" {
			dir = "infrastructure/namespaces"
		}
		names := unitFiles(u.objs)
		for _, o := range u.objs {
			data, err := o.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, File{Path: path.Join(dir, names[o.ID()]), Content: data})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// effectiveMap is effectiveFiles by path.
func effectiveMap(t testing.TB, res *Result) map[string]File {
	t.Helper()
	out := map[string]File{}
	for _, f := range effectiveFiles(t, res) {
		out[f.Path] = f
	}
	return out
}
