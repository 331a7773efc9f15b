package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// parseFails parses in and returns the field errors, failing unless
// Parse refuses it with a ValidationError whose every field has a fix.
func parseFails(t *testing.T, in string) []bundles.FieldError {
	t.Helper()
	_, err := Parse([]byte(in))
	var ve *bundles.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse(%q) = %v, want a ValidationError", in, err)
	}
	for _, f := range ve.Fields {
		if f.Fix == "" {
			t.Errorf("%s has no fix: %v", f.Path, err)
		}
	}
	return ve.Fields
}

func TestDuplicateKeyRejected(t *testing.T) {
	in := "domain: docs.example.org\ntls:\n  mode: acme\n  acmeEmail: a@example.org\n  mode: appliance-ca\ndomain: other.example.org\n"
	fields := parseFails(t, in)
	want := map[string]string{
		"tls.mode": "given twice, on line 3 and on line 5",
		"domain":   "given twice, on line 1 and on line 6",
	}
	if len(fields) != len(want) {
		t.Fatalf("want %d errors, got %+v", len(want), fields)
	}
	for _, f := range fields {
		if !strings.Contains(f.Problem, want[f.Path]) {
			t.Errorf("%s: %q lacks %q", f.Path, f.Problem, want[f.Path])
		}
	}
}

func TestMergedKeysAreNotDuplicates(t *testing.T) {
	// An explicit key overriding a merged one is YAML's own rule, not a mistake.
	c, err := Parse([]byte("backup:\n  <<: {schedule: \"0 0 3 * * *\", retention: 7d}\n  retention: 30d\n"))
	if err != nil || c.Backup.Retention != "30d" || c.Backup.Schedule != "0 0 3 * * *" {
		t.Fatalf("%v %+v", err, c)
	}
	if fields := parseFails(t, "backup:\n  <<: {schedlue: x}\n"); !strings.Contains(fields[0].Error(), "backup.schedlue: unknown field (line 2, column 8)") {
		t.Fatalf("a merged key is checked too: %+v", fields)
	}
}

func TestSyntaxErrorHasLineAndFix(t *testing.T) {
	for in, want := range map[string][]string{
		"domain: docs.example.org\ntls:\n  mode: acme: x\n": {"line 3", "mapping values are not allowed", `"  mode: acme: x"`, "quote the value on line 3"},
		"domain: docs.example.org\ntls:\n\tmode: acme\n":    {"line 3", "indent line 3 with spaces"},
		"domain: [docs.example.org\nprofile: ha\n":          {"line ", "did not find expected"},
	} {
		fields := parseFails(t, in)
		if len(fields) != 1 {
			t.Fatalf("%q: %+v", in, fields)
		}
		got := fields[0].Error()
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%q: %q lacks %q", in, got, w)
			}
		}
		if !strings.HasPrefix(got, "line ") || !strings.Contains(got, "(fix: ") {
			t.Errorf("not in the path: problem (fix: ...) form: %q", got)
		}
	}
}

func TestUnknownFieldNamedWithClosestKnown(t *testing.T) {
	for in, want := range map[string]string{
		"tls:\n  mdoe: acme\n":                   "tls.mdoe: unknown field (line 2, column 3) (fix: did you mean tls.mode?",
		"adminemail: a@example.org\n":            "adminemail: unknown field (line 1, column 1) (fix: did you mean adminEmail?",
		"identity:\n  clientId: docs\n":          "identity.clientId: unknown field (line 2, column 3) (fix: did you mean identity.clientID?",
		"domian: docs.example.org\n":             "did you mean domain?",
		"acmeEmail: a@example.org\n":             "acmeEmail: unknown field (line 1, column 1) (fix: did you mean tls.acmeEmail? move it under its section",
		"storage:\n  colour: blue\n":             "storage.colour: unknown field (line 2, column 3) (fix: remove it, or use one of the fields of storage: mode, endpoint, region, bucket)",
		"identity:\n  endpoints:\n    tokn: x\n": "identity.endpoints.tokn: unknown field (line 3, column 5) (fix: did you mean identity.endpoints.token?",
	} {
		fields := parseFails(t, in)
		if len(fields) != 1 || !strings.Contains(fields[0].Error(), want) {
			t.Errorf("%q:\n got %+v\nwant %q", in, fields, want)
		}
	}
}

func TestWrongTypeNamesFieldAndLine(t *testing.T) {
	for in, want := range map[string]string{
		"smtp:\n  host: mail.example.org\n  port: abc\n": `smtp.port: "abc" is text (line 3, column 9), want a whole number`,
		"train: 2026.11\n":   `train: "2026.11" is read as a number (line 1, column 8), want text (fix: put the value in double quotes: "2026.11")`,
		"airgapped: maybe\n": `airgapped: "maybe" is text (line 1, column 12), want true or false`,
		"extraDomains:\n  - a.example.org\n  - {x: y}\n": "extraDomains[1]: the value is a section (line 3, column 5), want text",
		"tls: acme\n": `tls: "acme" is text (line 1, column 6), want a section`,
	} {
		fields := parseFails(t, in)
		if len(fields) != 1 || !strings.Contains(fields[0].Error(), want) {
			t.Errorf("%q:\n got %+v\nwant %q", in, fields, want)
		}
	}
}

func TestOneDocumentAndAMapping(t *testing.T) {
	if f := parseFails(t, "domain: a.example.org\n---\ndomain: b.example.org\n"); f[0].Path != "line 2" || !strings.Contains(f[0].Problem, "second YAML document") {
		t.Errorf("%+v", f)
	}
	if _, err := Parse([]byte("domain: a.example.org\n---\n# the end\n")); err != nil {
		t.Errorf("a trailing --- with nothing after it is harmless: %v", err)
	}
	if f := parseFails(t, "- domain: a.example.org\n"); !strings.Contains(f[0].Problem, "is a list, not a mapping") {
		t.Errorf("%+v", f)
	}
	for _, empty := range []string{"", "# only a comment\n", "---\n"} {
		if c, err := Parse([]byte(empty)); err != nil || c.Domain != "" {
			t.Errorf("an empty file is an empty config (Validate lists what is missing): %v", err)
		}
	}
}

func TestLoadRefusesOversizeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: 50 MB on paper, nothing on disk; Load must refuse it from the stat.
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Load(path)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "52428800 bytes") || !strings.Contains(err.Error(), "fix: ") {
		t.Fatalf("got %v", err)
	}
	// Exactly at the limit is still read.
	at := filepath.Join(t.TempDir(), "at.yaml")
	if err := os.WriteFile(at, append([]byte("domain: docs.example.org\n#"), make([]byte, MaxFileSize-26)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(at); errors.Is(err, ErrTooLarge) {
		t.Fatalf("a file of exactly MaxFileSize was refused: %v", err)
	}
}

func TestLoadBoundsANonRegularFile(t *testing.T) {
	// A pipe has no size to stat: Load reads one byte past the limit, then stops.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			done <- err
			return
		}
		defer w.Close()
		chunk := []byte(strings.Repeat("# padding\n", 6554))
		for {
			if _, err := w.Write(chunk); err != nil {
				done <- nil // the reader stopped and closed: EPIPE
				return
			}
		}
	}()
	if _, err := Load(fifo); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
