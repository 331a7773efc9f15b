package render

import (
	"testing"
)

// effectiveFiles are the objects the environment applies, each at the path of its
// component's folder (infrastructure/<component>/, apps/docs/, <component>/crds/,
// infrastructure/namespaces/), whether the overlay shares it from the base, patches it or
// holds it: the tests of objects' content read them there. TestOverlaysBuildToTheRender
// checks that the overlays build to exactly these objects.
func effectiveFiles(t testing.TB, res *Result) []File {
	t.Helper()
	files, err := res.Effective()
	if err != nil {
		t.Fatal(err)
	}
	var out []File
	for _, f := range files {
		if !f.Secret {
			out = append(out, f)
		}
	}
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
