package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// walker checks a YAML node tree against the Config type: duplicate keys
// and unknown fields, each with its line.
type walker struct{ errs []bundles.FieldError }

func (w *walker) add(path, problem, fix string) {
	w.errs = append(w.errs, bundles.FieldError{Path: path, Problem: problem, Fix: fix})
}

func at(n *yaml.Node) string { return fmt.Sprintf("line %d, column %d", n.Line, n.Column) }

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func (w *walker) check(n *yaml.Node, t reflect.Type, path string) {
	n = resolveAlias(n)
	if n == nil {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // a null section is fine; any other mismatch is a type error decoding reports
		}
		w.mapping(n, t, path, map[string]*yaml.Node{})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode || t.Elem().Kind() != reflect.Struct {
			return
		}
		for i, item := range n.Content {
			w.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

// mapping checks one mapping's keys; seen holds the keys already given at
// this level (merge keys, <<, bring in keys that explicit ones override).
func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string, seen map[string]*yaml.Node) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.add(p, fmt.Sprintf("given twice, on line %d and on line %d; only the last would count", first.Line, k.Line),
				"keep one of them")
			continue
		}
		seen[k.Value] = k
		f, ok := fieldOf(t, k.Value)
		if !ok {
			w.unknown(k, t, path)
			continue
		}
		w.check(v, f.Type, p)
	}
	// Merged keys only fill what the mapping does not set itself.
	for _, m := range merges {
		m = resolveAlias(m)
		var maps []*yaml.Node
		if m.Kind == yaml.SequenceNode {
			maps = m.Content
		} else {
			maps = []*yaml.Node{m}
		}
		for _, mm := range maps {
			if mm = resolveAlias(mm); mm != nil && mm.Kind == yaml.MappingNode {
				inner := map[string]*yaml.Node{}
				w.mapping(mm, t, path, inner)
			}
		}
	}
}

func (w *walker) unknown(k *yaml.Node, t reflect.Type, path string) {
	where := "the top level"
	if path != "" {
		where = path
	}
	known := fieldNames(t)
	p := join(path, k.Value)
	problem := "unknown field (" + at(k) + ")"
	if near := closest(k.Value, known); len(near) > 0 {
		w.add(p, problem, fmt.Sprintf("did you mean %s? rename it (fields of %s: %s)", orList(near, path), where, strings.Join(known, ", ")))
		return
	}
	if elsewhere := findField(reflect.TypeOf(Config{}), k.Value, ""); len(elsewhere) > 0 {
		w.add(p, problem, fmt.Sprintf("did you mean %s? move it under its section", strings.Join(elsewhere, " or ")))
		return
	}
	w.add(p, problem, fmt.Sprintf("remove it, or use one of the fields of %s: %s", where, strings.Join(known, ", ")))
}

func orList(names []string, path string) string {
	var full []string
	for _, n := range names {
		full = append(full, join(path, n))
	}
	return strings.Join(full, " or ")
}

// fieldOf finds the struct field whose JSON name is name.
func fieldOf(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if jsonName(f) == name && name != "" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	n := strings.Split(f.Tag.Get("json"), ",")[0]
	if n == "-" {
		return ""
	}
	return n
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if n := jsonName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// findField lists the paths of sections (below the top level) that have a
// field named name, compared case-insensitively: a key put at the wrong
// level.
func findField(t reflect.Type, name, path string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		n := jsonName(f)
		if n == "" {
			continue
		}
		if path != "" && strings.EqualFold(n, name) {
			out = append(out, join(path, n))
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, findField(f.Type, name, join(path, n))...)
		}
	}
	return out
}

// closest returns the known names nearest to name when the difference
// looks like a typo: a different case, or an edit distance of 1 (2 for
// names of more than five letters), swaps counting as one edit.
func closest(name string, known []string) []string {
	best, bestD := []string(nil), 3
	for _, k := range known {
		d := editDistance(strings.ToLower(name), strings.ToLower(k))
		limit := 1
		if len(k) > 5 {
			limit = 2
		}
		if d > limit || d > bestD {
			continue
		}
		if d < bestD {
			best, bestD = nil, d
		}
		best = append(best, k)
	}
	return best
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// typeError explains a value of the wrong type at its line.
func typeError(root *yaml.Node, te *json.UnmarshalTypeError) bundles.FieldError {
	path := te.Field
	fe := bundles.FieldError{Path: path}
	var want, fix string
	switch te.Type.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		want, fix = "a whole number", "write the number without quotes, e.g. 587"
	case reflect.Bool:
		want, fix = "true or false", "write true or false, without quotes"
	case reflect.String:
		want, fix = "text", "write the value as plain text, not a list or section"
	case reflect.Slice:
		want, fix = "a list", "write one `- item` per line under the key, or [a, b]"
	case reflect.Struct:
		want, fix = "a section", "indent the section's fields under the key"
	default:
		want, fix = te.Type.String(), "see examples/appliance.yaml"
	}
	n := nodeAt(root, path)
	if n != nil && n.Kind == yaml.SequenceNode && te.Type.Kind() != reflect.Slice {
		// A list of text with a bad item: encoding/json names the list only.
		for i, item := range n.Content {
			if item = resolveAlias(item); item.Kind != yaml.ScalarNode || item.ShortTag() != "!!str" {
				fe.Path, n = fmt.Sprintf("%s[%d]", path, i), item
				break
			}
		}
	}
	if te.Type.Kind() == reflect.String && n != nil && n.Kind == yaml.ScalarNode {
		fix = fmt.Sprintf("put the value in double quotes: %q", n.Value)
	}
	fe.Fix = fix
	if n != nil {
		fe.Problem = fmt.Sprintf("%s is %s (%s), want %s", quoteValue(n), describe(n), at(n), want)
	} else {
		fe.Problem = fmt.Sprintf("is a %s, want %s", te.Value, want)
	}
	return fe
}

func quoteValue(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(truncate(n.Value, 40))
	}
	return "the value"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a section"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "read as a number"
	case "!!bool":
		return "read as true/false"
	case "!!null":
		return "empty"
	}
	return "text"
}

// nodeAt finds the value node at a dotted JSON path (as encoding/json
// reports it: no list indexes).
func nodeAt(root *yaml.Node, path string) *yaml.Node {
	n := resolveAlias(root)
	for _, part := range strings.Split(path, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				next = resolveAlias(n.Content[i+1])
			}
		}
		n = next
	}
	return n
}
