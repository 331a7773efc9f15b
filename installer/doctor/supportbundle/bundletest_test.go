package supportbundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
)

// unpack reads a bundle into its files.
func unpack(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the bundle is not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading the bundle's tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = data
	}
}

// encodings are the forms in which a planted value must not appear: the
// ones a reader (or a tool) would decode it from.
func encodings(v string) map[string]string {
	out := map[string]string{
		"raw":       v,
		"base64":    base64.StdEncoding.EncodeToString([]byte(v)),
		"base64url": base64.RawURLEncoding.EncodeToString([]byte(v)),
		"url":       url.QueryEscape(v),
	}
	j, _ := json.Marshal(v)
	out["json"] = string(j[1 : len(j)-1])
	if strings.Contains(v, "\n") {
		for i, line := range strings.Split(v, "\n") {
			if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") {
				out["line "+itoa(i+1)] = line
			}
		}
	}
	return out
}

// assertNoneLeaks fails for every planted value found in any file of the
// bundle, in any of its encodings, naming the value by its label only.
func assertNoneLeaks(t *testing.T, files map[string][]byte, planted map[string]string) {
	t.Helper()
	for label, v := range planted {
		for form, enc := range encodings(v) {
			for name, data := range files {
				if bytes.Contains(data, []byte(enc)) {
					t.Errorf("planted %s (%s) is in %s", label, form, name)
				}
				if bytes.Contains(bytes.ToLower(data), []byte(strings.ToLower(enc))) && strings.HasPrefix(v, "AGE-SECRET-KEY-") {
					t.Errorf("planted %s (%s, lower case) is in %s", label, form, name)
				}
			}
		}
	}
}

func manifestOf(t *testing.T, files map[string][]byte) Manifest {
	t.Helper()
	var m Manifest
	if err := json.Unmarshal(files[ManifestFile], &m); err != nil {
		t.Fatalf("reading the manifest: %v", err)
	}
	return m
}

func failedWhat(m Manifest) []string {
	var out []string
	for _, f := range m.Failed {
		out = append(out, f.What)
	}
	return out
}
