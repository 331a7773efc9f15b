package validate

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// minSecretValue is the shortest decrypted value searched for in plain files: shorter ones
// ("true", a port) match by chance and are not what leaks.
const minSecretValue = 8

// identifier is a value a Secret holds beside its secrets that is a name, not a secret: a user
// name, a host name, a bucket (lower case letters, digits, dots, dashes). They appear in plain
// configuration on purpose; a password or key has other characters.
var identifier = regexp.MustCompile(`^[a-z][a-z0-9._-]*$`)

// checkSecretFiles: a Secret in a file is encrypted; with keys, every encrypted file decrypts
// and no decrypted Secret value appears in a plain file.
func (t *tree) checkSecretFiles(decrypt func([]byte) ([]byte, error), rep *Report) {
	type leak struct{ secret, file string }
	values := map[string][]string{} // value → the Secrets holding it
	for _, f := range t.files {
		if !f.encrypted {
			for _, d := range f.docs {
				if k := keyOf(d); k.group == "" && k.kind == "Secret" {
					rep.add(plainSecret(f.path, k))
				}
			}
			continue
		}
		if decrypt == nil {
			continue
		}
		plain, err := decrypt(f.data)
		if err != nil {
			fix := "restore the file from Git history, or encrypt it again with `sops --encrypt --in-place` (the repository's .sops.yaml names the recipients)"
			if errors.Is(err, ErrWrongKey) {
				fix = "encrypt it for the appliance's key too (`sops updatekeys` with the repository's .sops.yaml), or pass the key it was encrypted for with --age-key"
			}
			rep.add(Finding{File: f.path, Rule: RuleSecretDecrypt, Message: err.Error(), Fix: fix})
			continue
		}
		rep.Decrypted++
		docs, _ := decodeDocs(plain)
		for _, d := range docs {
			k := keyOf(d)
			if k.group != "" || k.kind != "Secret" {
				continue
			}
			for _, v := range secretValues(d) {
				if len(v) >= minSecretValue && !identifier.MatchString(v) {
					values[v] = append(values[v], k.String())
				}
			}
		}
	}
	if len(values) == 0 {
		return
	}
	seen := map[leak]bool{}
	for _, f := range t.plain {
		for v, holders := range values {
			if !bytes.Contains(f.data, []byte(v)) {
				continue
			}
			sort.Strings(holders)
			l := leak{holders[0], f.path}
			if seen[l] {
				continue
			}
			seen[l] = true
			rep.add(Finding{File: f.path, Rule: RuleSecretInPlain,
				Message: fmt.Sprintf("the file holds in the clear a value of the encrypted %s", holders[0]),
				Fix:     "reference the Secret (secretKeyRef, a mounted volume) instead of copying its value, then rotate the value: it is in Git's history"})
		}
	}
}

func plainSecret(file string, k objKey) Finding {
	return Finding{File: file, Object: k.String(), Rule: RuleSecretPlain,
		Message: "a Secret is in the repository in the clear: anyone who can read the repository reads it",
		Fix:     "encrypt the file with `sops --encrypt --in-place " + file + "` (the repository's .sops.yaml names the recipients) and rotate the values it held"}
}

// secretValues are a decrypted Secret's values: stringData as is, data base64-decoded.
func secretValues(d map[string]any) []string {
	var out []string
	if sd, ok := d["stringData"].(map[string]any); ok {
		for _, v := range sd {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	if data, ok := d["data"].(map[string]any); ok {
		for _, v := range data {
			if s, ok := v.(string); ok {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					out = append(out, string(b))
				}
			}
		}
	}
	return out
}

// checkBuiltSecret: a Secret a build produced carries SOPS metadata (a secretGenerator's does
// not: its values sit in plain files).
func checkBuiltSecret(o object, rep *Report) {
	if o.key.group != "" || o.key.kind != "Secret" {
		return
	}
	if _, ok := o.obj["sops"]; ok {
		return
	}
	if !strings.HasSuffix(o.file, "/") {
		rep.add(plainSecret(o.file, o.key))
		return
	}
	// In no file: kustomize made it (a secretGenerator), from values in plain files.
	rep.add(Finding{File: o.file, Object: o.key.String(), Rule: RuleSecretPlain,
		Message: "kustomize generates this Secret (a secretGenerator) from values kept in the clear in the repository",
		Fix:     "replace the secretGenerator by a Secret file encrypted with `sops --encrypt --in-place` (the repository's .sops.yaml names the recipients), and rotate the values"})
}
