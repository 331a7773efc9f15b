// Package brandtest makes branding files for tests: real PNG images
// encoded by image/png, ICO files wrapping them as browsers read them, and
// SVG documents, written where a test's config points. Nothing in the
// binary uses it.
package brandtest
