package supportbundle

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"filippo.io/age"
)

func randomValue(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)[:n]
}

// writeInChunks streams text through the redactor n bytes at a time.
func writeInChunks(r *Redactor, text []byte, n int) string {
	var out bytes.Buffer
	w := r.Writer(&out)
	for len(text) > 0 {
		k := min(n, len(text))
		w.Write(text[:k])
		text = text[k:]
	}
	w.Close()
	return out.String()
}

func TestValueSplitAtEveryChunkBoundaryIsCaught(t *testing.T) {
	secret := randomValue(t, 40)
	r := NewRedactor()
	r.AddSecret("secret-store django.secretKey", secret)
	// The value sits across the scan point of the stream (look-ahead plus
	// flushEvery) and is written in chunks that split it at every offset.
	filler := strings.Repeat("log line without secrets\n", (r.lookahead()+flushEvery)/25)
	text := []byte(filler + "key=" + secret + " end\n" + filler)
	for _, chunk := range []int{1, 7, 4096, len(filler) + 10, len(filler) + 4 + 20, 1 << 20} {
		got := writeInChunks(r, text, chunk)
		if strings.Contains(got, secret) || strings.Contains(got, secret[:20]) {
			t.Fatalf("chunk %d: the value (or half of it) reached the output", chunk)
		}
		if !strings.Contains(got, "key=[redacted: secret-store django.secretKey] end\n") {
			t.Fatalf("chunk %d: no marker where the value was", chunk)
		}
		if len(got) != len(text)-len(secret)+len("[redacted: secret-store django.secretKey]") {
			t.Fatalf("chunk %d: output is %d bytes, the context around the value was changed", chunk, len(got))
		}
	}
}

func TestOverlappingValuesAreBothHidden(t *testing.T) {
	r := NewRedactor()
	r.AddSecret("secret-store a", "abcdefghij")
	r.AddSecret("secret-store b", "ghijklmnop")
	r.AddSecret("secret-store c", "cdef0123") // does not occur
	got := string(r.Bytes([]byte("x abcdefghijklmnop y abcdefghij z")))
	want := "x [redacted: secret-store a, secret-store b] y [redacted: secret-store a] z"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	// A value inside another: the longer one wins the span.
	r2 := NewRedactor()
	r2.AddSecret("outer", "0123456789abcdef")
	r2.AddSecret("inner", "456789ab")
	if got := string(r2.Bytes([]byte("[0123456789abcdef] [456789ab]"))); got != "[[redacted: outer, inner]] [[redacted: inner]]" {
		t.Fatalf("nested: got %q", got)
	}
}

func TestBase64FormsAreHidden(t *testing.T) {
	secret := "S3cr3t-" + randomValue(t, 30)
	r := NewRedactor()
	r.AddField("secret docs/docs-backend DB_PASSWORD", []byte(secret))
	std := base64.StdEncoding.EncodeToString([]byte(secret))
	// Inside a longer base64 text at each offset: a docker config's auth,
	// a whole env file encoded.
	var inside []string
	for _, prefix := range []string{"", "u:", "user:"} {
		inside = append(inside, base64.StdEncoding.EncodeToString([]byte(prefix+secret+"\nMORE=1")))
		inside = append(inside, base64.RawURLEncoding.EncodeToString([]byte(prefix+secret+"~~~")))
	}
	for _, text := range append([]string{std, "data:\n  DB_PASSWORD: " + std + "\n"}, inside...) {
		got := string(r.Bytes([]byte(text)))
		if !strings.Contains(got, "secret docs/docs-backend DB_PASSWORD") {
			t.Errorf("no marker in %q -> %q", text, got)
		}
		if d := decodeAll(got); strings.Contains(d, secret[:12]) {
			t.Errorf("the value still decodes out of %q", got)
		}
	}
}

// decodeAll decodes every base64 run of the text in both alphabets at every
// offset and returns what came out, to prove no encoded copy survived.
func decodeAll(s string) string {
	var out strings.Builder
	for _, run := range strings.FieldsFunc(s, func(c rune) bool { return !isWordByte(byte(c)) && c != '+' && c != '/' && c != '-' && c != '_' }) {
		for off := 0; off < 4 && off < len(run); off++ {
			p := run[off:]
			p = p[:len(p)/4*4]
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
				if b, err := enc.DecodeString(p); err == nil {
					out.Write(b)
				}
			}
		}
	}
	return out.String()
}

func TestShapesAreHiddenWithoutKnowingTheValue(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := id.String()
	jwt := "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ." + randomValue(t, 40)
	tok := randomValue(t, 32)
	pass := randomValue(t, 20)
	k3s := "K10" + strings.Repeat("ab", 32) + "::server:" + randomValue(t, 32)
	cases := []struct{ in, want string }{
		{"key " + key + " here", "key [redacted: age-key] here"},
		{"lower " + strings.ToLower(key), "lower [redacted: age-key]"},
		{"token: " + jwt, "token: [redacted: credential-field, jwt]"},
		{"sa " + jwt + ".", "sa [redacted: jwt]."},
		{"Authorization: Bearer " + tok, "Authorization: Bearer [redacted: bearer-token]"},
		{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+pass)), "Authorization: Basic [redacted: basic-auth]"},
		{"dial postgresql://docs:" + pass + "@docs-db-rw.database:5432/docs", "dial postgresql://docs:[redacted: url-password]@docs-db-rw.database:5432/docs"},
		{"redis://:" + pass + "@redis:6379/0", "redis://:[redacted: url-password]@redis:6379/0"},
		{"    client-key-data: " + base64.StdEncoding.EncodeToString([]byte(pass+pass)), "    client-key-data: [redacted: credential-field]"},
		{`{"password":"` + pass + `","user":"docs"}`, `{"password":"[redacted: credential-field]","user":"docs"}`},
		{"join " + k3s, "join [redacted: k3s-token]"},
		{"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE" + pass + "\n-----END EC PRIVATE KEY-----\n", "[redacted: private-key]\n"},
	}
	r := NewRedactor()
	for _, c := range cases {
		if got := string(r.Bytes([]byte(c.in))); got != c.want {
			t.Errorf("%q\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	// Context that only looks like a secret stays.
	for _, keep := range []string{"secretRef: {name: sops-age}", "https://docs.example.org/api/v1.0/config/", "tokenSecret: x", "namespace docs"} {
		if got := string(r.Bytes([]byte(keep))); got != keep {
			t.Errorf("%q was changed to %q", keep, got)
		}
	}
}

func TestShortValues(t *testing.T) {
	r := NewRedactor()
	r.AddSecret("secret-store smtp.password", "hunter2")
	r.AddField("secret database/docs-db username", []byte("docs"))
	got := string(r.Bytes([]byte("pw hunter2, not hunter22 nor xhunter2; namespace docs")))
	if got != "pw [redacted: secret-store smtp.password], not hunter22 nor xhunter2; namespace docs" {
		t.Fatalf("got %q", got)
	}
	if s := r.Skipped(); len(s) != 1 || s[0] != "secret database/docs-db username (4 bytes)" {
		t.Fatalf("Skipped() = %q", s)
	}
	// A short whole token at the very end of the stream, split from what follows.
	if got := writeInChunks(r, []byte("end hunter2"), 4); got != "end [redacted: secret-store smtp.password]" {
		t.Fatalf("at the end: %q", got)
	}
}

func TestMultiLineValueIsHiddenLineByLine(t *testing.T) {
	body1, body2 := randomValue(t, 64), randomValue(t, 40)
	pem := "-----BEGIN CERTIFICATE-----\n" + body1 + "\n" + body2 + "\n-----END CERTIFICATE-----\n"
	r := NewRedactor()
	r.AddField("secret edge/docs-tls tls.crt", []byte(pem))
	// Re-indented as in a YAML block: the whole value no longer occurs.
	text := "ca: |\n    -----BEGIN CERTIFICATE-----\n    " + body1 + "\n    " + body2 + "\n    -----END CERTIFICATE-----\n"
	got := string(r.Bytes([]byte(text)))
	if strings.Contains(got, body1) || strings.Contains(got, body2) {
		t.Fatalf("a line of the value survived: %q", got)
	}
	if !strings.Contains(got, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("the armor lines are not secret and should stay: %q", got)
	}
}

func TestCountsSayWhatWasHidden(t *testing.T) {
	r := NewRedactor()
	r.AddSecret("secret-store x", "0123456789")
	r.Bytes([]byte("0123456789 and 0123456789"))
	if c := r.Counts()["secret-store x"]; c != 2 {
		t.Fatalf("count = %d, want 2", c)
	}
}

func BenchmarkRedactLog(b *testing.B) {
	r := NewRedactor()
	for i := 0; i < 300; i++ {
		r.AddSecret("secret-store v"+itoa(i), randomValue(b, 40))
	}
	line := []byte(`2026-12-02T00:00:00Z INFO request GET /api/v1.0/documents/ 200 12ms user=3f2a agent="Mozilla/5.0"` + "\n")
	text := bytes.Repeat(line, (4<<20)/len(line))
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := r.Writer(io_discard{})
		w.Write(text)
		w.Close()
	}
}

type io_discard struct{}

func (io_discard) Write(p []byte) (int, error) { return len(p), nil }
