package supportbundle

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Redactor replaces every secret it knows of, and every secret it finds
// by shape (patterns), with a marker naming what was there:
// "[redacted: secret-store tls.privateKey]". It is safe for concurrent
// use once built; Writer streams through it.
type Redactor struct {
	m matcher
	// skipped are values deliberately not searched for (MinLen), named
	// without their value, for the manifest.
	skipped []string
	mu      sync.Mutex
	counts  map[string]int
}

// span is a range of the stream to hide and why.
type span struct {
	start, end int
	label      string
}

// NewRedactor starts a redactor that knows no value yet (patterns only).
func NewRedactor() *Redactor { return &Redactor{counts: map[string]int{}} }

// Strictness of AddValue for values shorter than MinLen.
type shortPolicy int

const (
	// shortAsToken: search for the short value as a whole token.
	shortAsToken shortPolicy = iota
	// shortSkip: do not search for it; the manifest says so.
	shortSkip
)

// AddValue registers a secret value in all its forms (see forms) under
// label. A value shorter than MinLen follows policy.
func (r *Redactor) addValue(label string, v []byte, policy shortPolicy) {
	if len(v) == 0 {
		return
	}
	if len(v) < MinLen {
		if policy == shortSkip {
			r.skipped = append(r.skipped, fmt.Sprintf("%s (%d bytes)", label, len(v)))
			return
		}
		r.m.add(needle{b: v, label: label, token: true})
	}
	for _, f := range forms(v) {
		b, l := f.b, label
		if f.name != "" {
			l += " (" + f.name + ")"
		}
		if len(b) < MinLen {
			continue
		}
		for len(b) > maxNeedle {
			r.m.add(needle{b: b[:maxNeedle], label: l})
			b = b[maxNeedle:]
		}
		if len(b) >= MinLen {
			r.m.add(needle{b: b, label: l})
		}
	}
}

// AddSecret registers a value that is secret by nature (the secret store,
// a token): short ones are searched for as whole tokens.
func (r *Redactor) AddSecret(label, value string) { r.addValue(label, []byte(value), shortAsToken) }

// AddField registers a value of a Kubernetes Secret: short ones are not
// searched for (see MinLen) and are listed by Skipped.
func (r *Redactor) AddField(label string, value []byte) { r.addValue(label, value, shortSkip) }

// skip records a value deliberately not searched for (label says why).
func (r *Redactor) skip(label string) { r.skipped = append(r.skipped, label) }

// Skipped names the values not searched for, with their lengths.
func (r *Redactor) Skipped() []string { return append([]string(nil), r.skipped...) }

// Counts says how many markers of each label were written.
func (r *Redactor) Counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

// lookahead is how much of the stream stays unwritten until more comes:
// twice the longest match, so a match that starts before the write point
// ends inside the buffer, and so does any match overlapping it.
func (r *Redactor) lookahead() int { return 2 * max(r.m.max, maxPattern) }

// spans finds what to hide in b, merged: overlapping and touching spans
// become one, whose marker names each label once.
func (r *Redactor) spans(b []byte, complete bool) []span {
	found := r.m.find(b, complete, nil)
	lower := asciiLower(nil, b)
	for i := range patterns {
		found = patterns[i].find(b, lower, found)
	}
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if a.end != b.end {
			return a.end > b.end
		}
		return a.label < b.label
	})
	merged := []span{found[0]}
	for _, s := range found[1:] {
		last := &merged[len(merged)-1]
		if s.start <= last.end {
			last.end = max(last.end, s.end)
			if !hasBase(last.label, baseLabel(s.label)) {
				last.label += ", " + s.label
			}
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

// baseLabel is a label without its form: "secret x/y k (base64)" -> "secret x/y k".
func baseLabel(l string) string {
	if i := strings.Index(l, " ("); i >= 0 {
		return l[:i]
	}
	return l
}

// hasBase: the list names base already, in some form; one form is enough.
func hasBase(list, base string) bool {
	for _, x := range strings.Split(list, ", ") {
		if baseLabel(x) == base {
			return true
		}
	}
	return false
}

func (r *Redactor) marker(label string) []byte {
	r.mu.Lock()
	r.counts[label]++
	r.mu.Unlock()
	return []byte("[redacted: " + label + "]")
}

// Bytes redacts a whole text at once.
func (r *Redactor) Bytes(b []byte) []byte {
	var out bytes.Buffer
	w := r.Writer(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// Writer returns a writer that redacts what goes through it into w. It
// holds back the look-ahead until Close, so a value split across writes
// (read chunks of a log) is still caught whole. Close flushes; it does not
// close w.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	return &redactWriter{r: r, w: w, hold: r.lookahead()}
}

type redactWriter struct {
	r    *Redactor
	w    io.Writer
	buf  []byte
	hold int
	err  error
}

// flushEvery is how much is buffered past the look-ahead before a scan:
// the scan's cost per byte stays low while memory stays bounded.
const flushEvery = 256 << 10

func (w *redactWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= w.hold+flushEvery {
		w.flush(false)
	}
	return len(p), w.err
}

func (w *redactWriter) Close() error {
	if w.err == nil {
		w.flush(true)
	}
	return w.err
}

// flush writes out what no later byte can change: everything before
// len-hold, or all of it at the end of the stream; a hidden span that
// starts before that point is written whole.
func (w *redactWriter) flush(final bool) {
	limit := len(w.buf) - w.hold
	if final {
		limit = len(w.buf)
	}
	if limit <= 0 {
		return
	}
	var out []byte
	done := 0
	for _, s := range w.r.spans(w.buf, final) {
		if s.start >= limit {
			break
		}
		out = append(out, w.buf[done:s.start]...)
		out = append(out, w.r.marker(s.label)...)
		done = s.end
	}
	if done < limit {
		out = append(out, w.buf[done:limit]...)
		done = limit
	}
	if _, err := w.w.Write(out); err != nil {
		w.err = err
		return
	}
	w.buf = append(w.buf[:0], w.buf[done:]...)
}
