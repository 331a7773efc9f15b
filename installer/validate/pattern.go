package validate

import (
	"fmt"
	"strings"
)

// matchPattern evaluates a Kyverno validate pattern against a resource, as Kyverno does for the
// parts the appliance's policies use: maps (every key present and matching; =(key) only when
// present), lists of one map (every element matches), and scalars (wildcards * and ?, "?*" for
// any non-empty value, ! for negation, | for alternatives). It returns where the resource
// first differs. Policies using other anchors or operators are refused by policyRules before
// they get here (patternSupported).
func matchPattern(pattern, value any, at string) (string, bool) {
	switch p := pattern.(type) {
	case map[string]any:
		m, ok := value.(map[string]any)
		if !ok {
			return at, false
		}
		for _, k := range sortedKeys(p) {
			key, optional := k, false
			if strings.HasPrefix(k, "=(") && strings.HasSuffix(k, ")") {
				key, optional = k[2:len(k)-1], true
			}
			v, present := m[key]
			if !present {
				if optional {
					continue
				}
				return at + "." + key, false
			}
			if where, ok := matchPattern(p[k], v, at+"."+key); !ok {
				return where, false
			}
		}
		return "", true
	case []any:
		l, ok := value.([]any)
		if !ok {
			return at, false
		}
		for i, e := range l {
			for _, pe := range p {
				if where, ok := matchPattern(pe, e, fmt.Sprintf("%s[%d]", at, i)); !ok {
					return where, false
				}
			}
		}
		return "", true
	case string:
		if value == nil {
			return at, false
		}
		if _, isMap := value.(map[string]any); isMap {
			return at, false
		}
		s := fmt.Sprint(value)
		for _, alt := range strings.Split(p, "|") {
			alt = strings.TrimSpace(alt)
			if neg, ok := strings.CutPrefix(alt, "!"); ok {
				if !globMatch(neg, s) {
					return "", true
				}
			} else if globMatch(alt, s) {
				return "", true
			}
		}
		return at, false
	default:
		if fmt.Sprint(pattern) == fmt.Sprint(value) {
			return "", true
		}
		return at, false
	}
}

// patternSupported reports what of a pattern this evaluator does not know, "" when nothing.
func patternSupported(pattern any) string {
	switch p := pattern.(type) {
	case map[string]any:
		for k, v := range p {
			if strings.ContainsAny(k, "()<>^+") && !(strings.HasPrefix(k, "=(") && strings.HasSuffix(k, ")")) {
				return "anchor " + k
			}
			if s := patternSupported(v); s != "" {
				return s
			}
		}
	case []any:
		for _, e := range p {
			if _, ok := e.(map[string]any); !ok && len(p) > 0 {
				return "a list of scalars"
			}
			if s := patternSupported(e); s != "" {
				return s
			}
		}
	case string:
		for _, alt := range strings.Split(p, "|") {
			alt = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(alt), "!"))
			if strings.HasPrefix(alt, "<") || strings.HasPrefix(alt, ">") || strings.HasPrefix(alt, "=") ||
				strings.Contains(alt, "{{") || strings.Contains(alt, "-") && strings.ContainsAny(alt, "<>") {
				return "operator in " + p
			}
		}
	}
	return ""
}

// globMatch matches s against a pattern of * (any run) and ? (one character).
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case starP >= 0:
			px = starP + 1
			starS++
			sx = starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
