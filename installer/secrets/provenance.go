package secrets

import (
	"github.com/suitenumerique/docs-appliance/installer/config"
)

// storeFile is the secret store's plain form, before SOPS encryption:
//
//	data:          name -> value in use    (encrypted; all the old format had)
//	origins:       name -> generated|given (plain: not secret, but under the SOPS MAC)
//	aside:         name -> value kept for a switch back (encrypted)
//	asideOrigins:  name -> generated|given
//
// A binary that knows only data still reads the values in use.
type storeFile struct {
	Data         map[string]string              `json:"data"`
	Origins      map[string]config.SecretOrigin `json:"origins,omitempty"`
	Aside        map[string]string              `json:"aside,omitempty"`
	AsideOrigins map[string]config.SecretOrigin `json:"asideOrigins,omitempty"`
}

// storeEncryptedRegex selects the values SOPS encrypts in the store.
const storeEncryptedRegex = "^(data|aside)$"

func (s *Store) fromFile(doc storeFile) {
	var generated, given map[string]bool
	legacy := func(name string) config.SecretOrigin {
		if generated == nil {
			generated, given = config.SecretUses()
		}
		return legacyOrigin(name, generated, given)
	}
	for name, v := range doc.Data {
		o, ok := doc.Origins[name]
		if !ok || !known(o) {
			o = legacy(name)
			s.dirty = true // written back with the origin on the next save
		}
		s.values[name] = entry{v, o}
	}
	for name, v := range doc.Aside {
		o, ok := doc.AsideOrigins[name]
		if !ok || !known(o) {
			o = config.SecretUnrecorded
		}
		s.aside[name] = entry{v, o}
	}
}

func known(o config.SecretOrigin) bool {
	return o == config.SecretGenerated || o == config.SecretGiven || o == config.SecretUnrecorded || o == config.SecretCopied
}

// legacyOrigin is the origin of a value stored by a docs-appliance that
// did not record origins: a name only ever generated was generated, a name
// never generated was given; a name whose origin depends on the mode stays
// unrecorded until ResolveUnrecorded learns the mode it was stored under.
func legacyOrigin(name string, generated, given map[string]bool) config.SecretOrigin {
	switch {
	case generated[name] && given[name]:
		return config.SecretUnrecorded
	case generated[name]:
		return config.SecretGenerated
	default:
		return config.SecretGiven
	}
}

func (s *Store) toFile() storeFile {
	doc := storeFile{Data: map[string]string{}, Origins: map[string]config.SecretOrigin{}}
	for name, e := range s.values {
		doc.Data[name], doc.Origins[name] = e.value, e.origin
	}
	if len(s.aside) > 0 {
		doc.Aside, doc.AsideOrigins = map[string]string{}, map[string]config.SecretOrigin{}
		for name, e := range s.aside {
			doc.Aside[name], doc.AsideOrigins[name] = e.value, e.origin
		}
	}
	return doc
}

// ResolveUnrecorded settles the origin of values an older docs-appliance
// stored without one, from last, the config that store was used with (the
// config saved in the state folder): a name last generated was generated,
// one last needed from the operator was given. Without last they stay
// unrecorded, and a config that needs the operator's value asks for it
// again rather than risk using a generated one.
func (s *Store) ResolveUnrecorded(last *config.Config) {
	if last == nil {
		return
	}
	specs := map[string]config.SecretSpec{}
	for _, sp := range last.RequiredSecrets() {
		specs[sp.Name] = sp
	}
	for name, e := range s.values {
		sp, ok := specs[name]
		if e.origin != config.SecretUnrecorded || !ok {
			continue
		}
		e.origin = config.SecretGiven
		// Older binaries only ever generated a secret that is now a copy
		// (the embedded store's backup account): never the operator's.
		if sp.Generated || sp.From != "" {
			e.origin = config.SecretGenerated
		}
		s.values[name] = e
		s.dirty = true
	}
}

// Origin tells where the value a secret the operator must give would come
// from: SecretGiven when the operator gave one (in use or kept aside),
// otherwise the origin of the value held (generated, or unrecorded by an
// older binary), or SecretMissing. It is Validate's have callback.
func (s *Store) Origin(name string) config.SecretOrigin {
	cur, ok := s.values[name]
	a, hasAside := s.aside[name]
	switch {
	case ok && cur.origin == config.SecretGiven, hasAside && a.origin == config.SecretGiven:
		return config.SecretGiven
	case ok:
		return cur.origin
	case hasAside:
		return a.origin
	}
	return config.SecretMissing
}

// Given returns the operator's own value for a secret, in use or kept
// aside; a generated value is never returned (the wizard offers it to
// keep: it must not offer the embedded Keycloak's secret for an external
// issuer).
func (s *Store) Given(name string) (string, bool) {
	if e, ok := s.values[name]; ok && e.origin == config.SecretGiven {
		return e.value, true
	}
	if e, ok := s.aside[name]; ok && e.origin == config.SecretGiven {
		return e.value, true
	}
	return "", false
}

// Set records a secret given by the operator. A generated value it
// replaces is kept aside: the embedded service it was made for may still
// hold it (see Ensure).
func (s *Store) Set(name, value string) {
	s.givenNow[name] = true
	cur, ok := s.values[name]
	if ok && cur.value == value {
		if cur.origin != config.SecretGiven {
			// The operator confirms a value an older binary left unrecorded.
			s.values[name] = entry{value, config.SecretGiven}
			s.dirty = true
		}
		return
	}
	if ok && cur.origin != config.SecretGiven {
		s.aside[name] = cur
	}
	s.values[name] = entry{value, config.SecretGiven}
	s.dirty = true
}

// Ensure puts in use, for every secret of specs, a value of the origin it
// needs, and returns the names it generated (never their values):
//
//   - a secret the appliance generates gets its generated value: the one
//     in use, else the one kept aside, else a new one. Switching identity
//     or storage back to embedded thus brings back the value the embedded
//     Keycloak or object store was set up with (Keycloak keeps its realm,
//     client secret included, in its database across the switch; a new
//     value would lock Docs out). An operator's value given in this run
//     replaces the generated one for good: the operator chose it.
//   - a secret the operator gives gets their value, in use or kept aside;
//     a generated value is never put to that use (Validate refuses the
//     config first).
//   - one with a From, while the operator gives none of its own, gets a
//     copy of From's value, refreshed on every run so it follows a rotated
//     key; a generated value it replaces is kept aside. A copy is never a
//     generated secret's value: that is brought back or made anew.
func (s *Store) Ensure(specs []config.SecretSpec) ([]string, error) {
	var made []string
	for _, sp := range specs {
		cur, ok := s.values[sp.Name]
		a, hasAside := s.aside[sp.Name]
		if !sp.Generated {
			if (!ok || cur.origin != config.SecretGiven) && hasAside && a.origin == config.SecretGiven {
				s.swap(sp.Name)
			} else if sp.From != "" && (!ok || cur.origin != config.SecretGiven) {
				s.copyFrom(sp.Name, sp.From)
			}
			continue
		}
		if ok && cur.origin == config.SecretCopied {
			delete(s.values, sp.Name)
			ok = false
			s.dirty = true
		}
		switch {
		case !ok && hasAside:
			s.swap(sp.Name)
		case !ok:
			v, err := Generate(sp.Name)
			if err != nil {
				return made, err
			}
			s.values[sp.Name] = entry{v, config.SecretGenerated}
			s.dirty = true
			made = append(made, sp.Name)
		case cur.origin == config.SecretGiven && hasAside && a.origin != config.SecretGiven:
			if s.givenNow[sp.Name] {
				delete(s.aside, sp.Name)
				s.dirty = true
			} else {
				s.swap(sp.Name)
			}
		}
	}
	return made, nil
}

// swap exchanges the value in use and the one kept aside.
func (s *Store) swap(name string) {
	cur, ok := s.values[name]
	s.values[name] = s.aside[name]
	if ok {
		s.aside[name] = cur
	} else {
		delete(s.aside, name)
	}
	s.dirty = true
}

// copyFrom puts a copy of from's value in use for name, keeping aside a
// generated value it replaces.
func (s *Store) copyFrom(name, from string) {
	src, ok := s.values[from]
	if !ok {
		return
	}
	cur, has := s.values[name]
	if has && cur.origin == config.SecretCopied && cur.value == src.value {
		return
	}
	if has && cur.origin != config.SecretCopied {
		s.aside[name] = cur
	}
	s.values[name] = entry{src.value, config.SecretCopied}
	s.dirty = true
}
