package supportbundle

import (
	"bytes"
	"regexp"
)

// pattern finds a kind of secret by its shape, for the secrets no store
// lists: tokens in logs, keys pasted into a ConfigMap. group is the
// submatch to hide (0: the whole match): the words around a token ("Bearer",
// "password:") stay, so a reader still sees what was there.
//
// A regular expression over every byte of every log is slow (Go's engine
// runs a few MB/s with eight of them), so each pattern names the literals
// its matches start with (anchors, lower case); the expression runs only
// where one occurs, anchored there.
type pattern struct {
	label   string
	re      *regexp.Regexp
	group   int
	anchors []string
	// boundary: a match must not follow a letter or digit (the \b the
	// anchored expression cannot see).
	boundary bool
	// scheme: the anchor is "://" and the match starts at the URL scheme
	// before it.
	scheme bool
	// pre is a cheap test of the bytes at a candidate start: false skips
	// the expression (most "api" and "://" in logs are no credential).
	pre func(b []byte) bool
	// plain says a found value is no secret (a number, true, null).
	plain func(v []byte) bool
}

// maxPattern bounds a match found by shape: the stream keeps this much
// look-ahead, so a token up to this long is caught whole wherever the
// read chunks split it.
const maxPattern = 16 << 10

func anchored(expr string) *regexp.Regexp { return regexp.MustCompile(`\A(?:` + expr + `)`) }

var patterns = []pattern{
	// age's Bech32 is case-insensitive; the key is 58 characters after "1".
	{label: "age-key", re: anchored(`(?i)AGE-SECRET-KEY-1[0-9A-Z]{20,}`), anchors: []string{"age-secret-key-1"}},
	{label: "private-key", re: anchored(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY-----`), anchors: []string{"-----begin"}},
	// Header and payload of a JWT are base64url JSON objects: "eyJ".
	{label: "jwt", re: anchored(`eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`), anchors: []string{"eyj"}},
	{label: "bearer-token", re: anchored(`(?i)bearer\s+([A-Za-z0-9._~+/=-]{8,})`), group: 1, anchors: []string{"bearer"}, boundary: true},
	{label: "basic-auth", re: anchored(`(?i)basic\s+([A-Za-z0-9+/]{8,}={0,2})`), group: 1, anchors: []string{"basic"}, boundary: true},
	// scheme://user:password@host — the password, up to the last "@"
	// before the path.
	{label: "url-password", re: anchored(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@'"]*:([^/\s'"]+)@`), group: 1, anchors: []string{"://"}, scheme: true, pre: hasUserinfo},
	// A k3s join token: K10<CA hash>::<user>:<password>.
	{label: "k3s-token", re: anchored(`K10[0-9a-f]{64}::[A-Za-z0-9._-]+:[A-Za-z0-9]+`), anchors: []string{"k10"}},
	// Credential fields in YAML, JSON, env files and flags: kubeconfig's
	// client-key-data and token, password=, secret_key: ...
	{label: "credential-field", re: anchored(`(?i)(?:client-key-data|client-certificate-data|token|password|passwd|secret|secret[_-]?key|secret[_-]?access[_-]?key|access[_-]?key(?:[_-]?id)?|api[_-]?key|private[_-]?key)["']?\s*[:=]\s*["']?([^\s"',;}\]]+)`),
		group: 1, anchors: []string{"client-", "token", "passw", "secret", "access", "api", "private"}, boundary: true, pre: isAssignment, plain: isLiteral},
}

// find appends the spans of every match in b; lower is b in ASCII lower case.
func (p *pattern) find(b, lower []byte, out []span) []span {
	for _, a := range p.anchors {
		for off := 0; ; {
			j := bytes.Index(lower[off:], []byte(a))
			if j < 0 {
				break
			}
			start := off + j
			off = start + 1
			if p.scheme {
				for start > 0 && isSchemeByte(b[start-1]) {
					start--
				}
			}
			if p.boundary && start > 0 && isWordByte(b[start-1]) {
				continue
			}
			if p.pre != nil && !p.pre(b[start:]) {
				continue
			}
			loc := p.re.FindSubmatchIndex(b[start:min(len(b), start+maxPattern)])
			if loc == nil || loc[2*p.group] < 0 || loc[2*p.group] == loc[2*p.group+1] {
				continue
			}
			s, e := start+loc[2*p.group], start+loc[2*p.group+1]
			if p.plain != nil && p.plain(b[s:e]) {
				continue
			}
			out = append(out, span{s, e, p.label})
		}
	}
	return out
}

func isSchemeByte(c byte) bool { return isWordByte(c) || c == '+' || c == '.' || c == '-' }

// asciiLower writes b in ASCII lower case into dst (reused).
func asciiLower(dst, b []byte) []byte {
	dst = append(dst[:0], b...)
	for i, c := range dst {
		if c >= 'A' && c <= 'Z' {
			dst[i] = c + 'a' - 'A'
		}
	}
	return dst
}

// hasUserinfo: an "@" comes after "://" before the path or a space.
func hasUserinfo(b []byte) bool {
	i := bytes.Index(b, []byte("://"))
	for _, c := range b[i+3 : min(len(b), i+3+512)] {
		switch c {
		case '@':
			return true
		case '/', ' ', '\t', '\n', '"', '\'':
			return false
		}
	}
	return false
}

// isAssignment: a name of letters, "-" and "_", then ":" or "=" (after an
// optional quote and spaces).
func isAssignment(b []byte) bool {
	i := 0
	for i < len(b) && i < 40 && (isWordByte(b[i]) || b[i] == '-' || b[i] == '_') {
		i++
	}
	if i < len(b) && (b[i] == '"' || b[i] == '\'') {
		i++
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i < len(b) && (b[i] == ':' || b[i] == '=')
}

// isLiteral: a number, a boolean or null — a field's value no one keeps
// secret, left so JSON stays JSON ("expiresIn": 3600).
func isLiteral(v []byte) bool {
	switch string(v) {
	case "true", "false", "null", "~":
		return true
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
