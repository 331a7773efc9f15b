package secrets

import "sort"

// Value is one value the store holds, for code that must recognise it to
// hide it (the support bundle's redactor): Aside marks a value kept for a
// switch back rather than the one in use.
type Value struct {
	Name  string
	Aside bool
	Value string
}

// Values lists every value the store holds, in use and kept aside, sorted
// by name. Callers must never print them.
func (s *Store) Values() []Value {
	out := make([]Value, 0, len(s.values)+len(s.aside))
	for name, e := range s.values {
		out = append(out, Value{Name: name, Value: e.value})
	}
	for name, e := range s.aside {
		out = append(out, Value{Name: name, Aside: true, Value: e.value})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return !out[i].Aside && out[j].Aside
	})
	return out
}
