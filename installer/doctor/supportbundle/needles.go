package supportbundle

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
)

// MinLen is the shortest value redacted wherever it appears, as a
// substring. A shorter value is handled by where it comes from (see
// Redactor.AddValue): searched for as a whole token when it is a secret
// by nature (the secret store, the kubeconfig, the k3s token), not
// searched for at all when it comes from a Kubernetes Secret, where short
// fields are mostly plain facts (username "docs", port "5432"), whose
// redaction would erase the context the bundle exists for — the manifest
// then names each such key with its length, never its value.
const MinLen = 8

// maxNeedle bounds one searched value: a longer one is searched for as
// pieces of this size (each piece is redacted where it appears), so the
// stream's look-ahead stays bounded.
const maxNeedle = 16 << 10

// form is one encoding of a value.
type form struct {
	name string
	b    []byte
}

// needle is one byte string to find, with the marker's label.
type needle struct {
	b     []byte
	label string
	// token: match only where the bytes around are not letters or digits.
	token bool
}

// forms returns the encodings of v the redactor searches for, each with
// the name of its form ("" for v itself): the value, its base64 in the
// standard and URL alphabets — standalone (as in a Secret's data) and at
// each of the three offsets it can sit at inside a longer base64 text —,
// its JSON-escaped and URL-escaped forms, and, for a multi-line value (a
// PEM key), each line of 16 bytes or more, so a key re-indented in YAML is
// caught line by line.
func forms(v []byte) []form {
	out := []form{{"", v}}
	add := func(name string, b []byte) {
		if len(b) >= MinLen && !bytes.Equal(b, v) {
			out = append(out, form{name, b})
		}
	}
	std := base64.StdEncoding.EncodeToString(v)
	add("base64", []byte(std))
	add("base64url", []byte(base64.URLEncoding.EncodeToString(v)))
	for a := 0; a < 3; a++ {
		// v after a bytes of something else: keep only the characters
		// that depend on v's bytes alone.
		padded := append(make([]byte, a), v...)
		full := len(padded) / 3 * 4
		enc := base64.StdEncoding.EncodeToString(padded)
		skip := [3]int{0, 2, 3}[a]
		if full-skip >= MinLen {
			inner := enc[skip:full]
			add("base64@"+string(rune('0'+a)), []byte(inner))
			add("base64url@"+string(rune('0'+a)), []byte(strings.NewReplacer("+", "-", "/", "_").Replace(inner)))
		}
	}
	if j, err := json.Marshal(string(v)); err == nil {
		add("json", j[1:len(j)-1])
	}
	add("url", []byte(url.QueryEscape(string(v))))
	add("url-path", []byte(url.PathEscape(string(v))))
	if bytes.Contains(v, []byte("\n")) {
		for i, line := range bytes.Split(v, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) >= 16 && !bytes.HasPrefix(line, []byte("-----")) {
				out = append(out, form{"line " + itoa(i+1), line})
			}
		}
	}
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// matcher finds every occurrence of many needles in one pass: each needle
// of MinLen bytes or more is filed under its first MinLen bytes, and a
// table of the first two bytes rejects most positions with one lookup.
type matcher struct {
	first  [1 << 16]bool
	byHead map[string][]int
	long   []needle
	// short needles (whole tokens shorter than MinLen) are few: searched
	// for one by one.
	short []needle
	max   int
}

func (m *matcher) add(n needle) {
	if len(n.b) < MinLen {
		m.short = append(m.short, n)
		return
	}
	if m.byHead == nil {
		m.byHead = map[string][]int{}
	}
	head := string(n.b[:MinLen])
	for _, i := range m.byHead[head] {
		if bytes.Equal(m.long[i].b, n.b) {
			return // the same bytes under another name: the first name stays
		}
	}
	m.first[int(n.b[0])<<8|int(n.b[1])] = true
	m.byHead[head] = append(m.byHead[head], len(m.long))
	m.long = append(m.long, n)
	m.max = max(m.max, len(n.b))
}

// find appends the spans of every occurrence in b (overlapping ones too).
// A needle must end inside b; complete says b is the end of the stream
// (a whole token at its very end has nothing after it).
func (m *matcher) find(b []byte, complete bool, out []span) []span {
	for i := 0; i+MinLen <= len(b); i++ {
		if !m.first[int(b[i])<<8|int(b[i+1])] {
			continue
		}
		for _, k := range m.byHead[string(b[i:i+MinLen])] {
			n := m.long[k]
			if bytes.HasPrefix(b[i:], n.b) {
				out = append(out, span{i, i + len(n.b), n.label})
			}
		}
	}
	for _, n := range m.short {
		for off := 0; ; {
			j := bytes.Index(b[off:], n.b)
			if j < 0 {
				break
			}
			s, e := off+j, off+j+len(n.b)
			off = s + 1
			if e == len(b) && !complete {
				break // the next byte decides: look again with more
			}
			if (s == 0 || !isWordByte(b[s-1])) && (e == len(b) || !isWordByte(b[e])) {
				out = append(out, span{s, e, n.label})
			}
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
