package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// MaxFileSize bounds appliance.yaml. A real config is a few kilobytes (the
// example is under 1 KiB; its largest fields, git.knownHosts and the
// lists of host names and age keys, stay under 100 KiB even for a site
// with thousands of names), so 1 MiB leaves ten times that as headroom
// while bounding what a parse costs: about 35 MB of allocations at the
// limit (BenchmarkLoadAtLimit), where a 50 MB file, a wrong --config
// naming a log or an image, took 1.2 GB and 24 s before the cap. Above it
// the file is refused from its size, unread.
const MaxFileSize = 1 << 20

// ErrTooLarge is returned (wrapped) for a config file above MaxFileSize.
var ErrTooLarge = errors.New("too large to be an appliance config")

// Load reads and parses a config file, refusing one above MaxFileSize
// before reading it.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading config %s: the file does not exist (write one like examples/appliance.yaml, or run install without --config to be asked)", path)
		}
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Mode().IsRegular() && info.Size() > MaxFileSize {
		return nil, tooLarge(path, fmt.Sprintf("it is %d bytes", info.Size()))
	}
	// Not every path is a regular file (a pipe, /dev/stdin) and a file can
	// grow after the stat: read at most one byte past the limit.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(path, fmt.Sprintf("it holds more than %d bytes", MaxFileSize))
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("loading config %s: %w", path, err)
	}
	if abs, err := filepath.Abs(filepath.Dir(path)); err == nil {
		c.Branding.absolutePaths(abs)
	}
	return c, nil
}

func tooLarge(path, size string) error {
	return fmt.Errorf("reading config %s: %w: %s, the limit is 1 MiB (fix: check that --config names the appliance.yaml, a file of a few kilobytes like examples/appliance.yaml)",
		path, ErrTooLarge, size)
}

// Parse decodes appliance.yaml. It refuses, all at once and each with its
// line and the fix, what YAML would otherwise let through silently: a key
// given twice (the last would win), an unknown field (a typo would be
// ignored), a value of the wrong type, a second document. Defaults are not
// applied yet (see Resolve): a --set of adminEmail must still flow into
// acmeEmail.
func Parse(data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("parsing config: %w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxFileSize)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(data, err)
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil && !emptyDocument(&second) {
		return nil, invalid(bundles.FieldError{
			Path:    fmt.Sprintf("line %d", second.Line),
			Problem: "a second YAML document starts here; it would be ignored",
			Fix:     "keep one document: remove the --- line and what follows, or merge it into the first",
		})
	} else if err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(data, err)
	}
	var c Config
	if doc.Kind == 0 || emptyDocument(&doc) {
		return &c, nil // an empty file: every field is reported by Validate
	}
	root := resolveAlias(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, invalid(bundles.FieldError{Path: "line " + strconv.Itoa(root.Line),
			Problem: "the file is " + describe(root) + ", not a mapping of keys",
			Fix:     "start from examples/appliance.yaml: apiVersion, kind, domain... each on its own line as key: value"})
	}
	var w walker
	w.check(root, reflect.TypeOf(c), "")
	if len(w.errs) > 0 {
		return nil, invalid(w.errs...)
	}
	// The node walk found the shape right; decode the values as before
	// (sigs.k8s.io/yaml, through the JSON tags), so their meaning is
	// unchanged.
	j, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		return nil, syntaxError(data, err)
	}
	jd := json.NewDecoder(bytes.NewReader(j))
	jd.DisallowUnknownFields()
	if err := jd.Decode(&c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, invalid(typeError(root, te))
		}
		return nil, fmt.Errorf("decoding config: %w", err)
	}
	return &c, nil
}

// emptyDocument is a trailing "---" with nothing after it but comments.
func emptyDocument(d *yaml.Node) bool {
	if len(d.Content) == 0 {
		return true
	}
	n := d.Content[0]
	return len(d.Content) == 1 && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && n.Value == ""
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func invalid(fields ...bundles.FieldError) error {
	return &bundles.ValidationError{Subject: "config", Fields: fields}
}

// yamlLineRe reads the line out of a YAML parser error: go.yaml.in/yaml
// has no typed syntax error, and its message is "yaml: line N: problem".
// The parser does not report a column.
var yamlLineRe = regexp.MustCompile(`yaml: line (\d+): (.*)$`)

func syntaxError(data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	fe := bundles.FieldError{Path: "YAML", Problem: msg,
		Fix: "check the indentation (spaces, not tabs) and the quoting; compare with examples/appliance.yaml"}
	m := yamlLineRe.FindStringSubmatch(err.Error())
	if m == nil {
		return invalid(fe)
	}
	n, _ := strconv.Atoi(m[1])
	fe.Path, fe.Problem = fmt.Sprintf("line %d", n), m[2]
	lines := strings.Split(string(data), "\n")
	if n >= 1 && n <= len(lines) {
		text := strings.TrimRight(lines[n-1], "\r")
		fe.Problem += fmt.Sprintf(": %q", truncate(text, 80))
		switch indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]; {
		case strings.Contains(indent, "\t"):
			fe.Fix = fmt.Sprintf("indent line %d with spaces: YAML does not allow tabs there", n)
		case strings.Count(text, ": ") > 1 || strings.HasSuffix(text, ":") && strings.Count(text, ":") > 1:
			fe.Fix = fmt.Sprintf(`quote the value on line %d: a value holding ": " must be in quotes, e.g. key: "a: b"`, n)
		default:
			fe.Fix = fmt.Sprintf("check the indentation of line %d and the line before (spaces only, each section's keys indented under it) and quote values that start with * & ! [ { @ ` or hold ': ' or ' #'", n)
		}
	}
	return invalid(fe)
}
