package upgrade

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/render"
)

// File is one file of the desired-state repository as committed, except
// that a Secret file holds its decrypted content (render's, before SOPS).
type File = render.File

// FileChange is one file the hop changes in the repository.
type FileChange struct {
	Path      string `json:"path"`
	Component string `json:"component"`
	// Change is added, removed or modified.
	Change string `json:"change"`
	// Secret files are SOPS-encrypted: compared by their decrypted
	// content, re-encrypted when it changed, and never shown.
	Secret bool `json:"secret,omitempty"`
	// Keys are the data keys of a Secret whose values change (names only).
	Keys []string `json:"keys,omitempty"`
	// Added and Removed count the diff's lines (0 for a Secret).
	Added   int `json:"added"`
	Removed int `json:"removed"`
	// Diff is the file's unified diff, as git shows it (a note for a Secret).
	Diff string `json:"diff,omitempty"`
}

// Component is the summary of one component's changes.
type Component struct {
	Name     string `json:"name"`
	Added    int    `json:"added"`
	Removed  int    `json:"removed"`
	Modified int    `json:"modified"`
	// Secrets counts the encrypted files re-encrypted with new values.
	Secrets    int `json:"secrets"`
	LinesAdded int `json:"linesAdded"`
	LinesGone  int `json:"linesRemoved"`
}

// DiffFiles compares the repository before and after a hop. A Secret file
// whose decrypted content is the same is no change: render keeps its
// ciphertext (render.Write compares decrypted content).
func DiffFiles(before, after []File) []FileChange {
	old := map[string]File{}
	for _, f := range before {
		old[f.Path] = f
	}
	var out []FileChange
	seen := map[string]bool{}
	for _, f := range after {
		seen[f.Path] = true
		o, had := old[f.Path]
		switch {
		case !had:
			out = append(out, fileChange(f.Path, "added", nil, f))
		case !bytes.Equal(o.Content, f.Content) || o.Secret != f.Secret:
			out = append(out, fileChange(f.Path, "modified", &o, f))
		}
	}
	for _, f := range before {
		if !seen[f.Path] {
			out = append(out, fileChange(f.Path, "removed", &f, File{Path: f.Path, Secret: f.Secret}))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func fileChange(path, change string, before *File, after File) FileChange {
	c := FileChange{Path: path, Component: ComponentOf(path), Change: change, Secret: after.Secret || (before != nil && before.Secret)}
	var a []byte
	if before != nil {
		a = before.Content
	}
	if c.Secret {
		c.Keys = changedKeys(a, after.Content)
		c.Diff = fmt.Sprintf("diff --git a/%s b/%s\n# SOPS-encrypted: %s; values not shown\n", path, path, secretNote(change))
		return c
	}
	from, to := "a/"+path, "b/"+path
	if change == "added" {
		from = "/dev/null"
	}
	if change == "removed" {
		to = "/dev/null"
	}
	body, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(a)), B: difflib.SplitLines(string(after.Content)),
		FromFile: from, ToFile: to, Context: 3,
	})
	for _, l := range strings.Split(body, "\n") {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		case strings.HasPrefix(l, "+"):
			c.Added++
		case strings.HasPrefix(l, "-"):
			c.Removed++
		}
	}
	c.Diff = "diff --git a/" + path + " b/" + path + "\n" + body
	return c
}

func secretNote(change string) string {
	switch change {
	case "added":
		return "new file, encrypted for the appliance's recipients"
	case "removed":
		return "removed"
	}
	return "re-encrypted, values changed"
}

// changedKeys names the data and stringData keys whose values differ
// between two Secret manifests (never the values).
func changedKeys(a, b []byte) []string {
	ka, kb := secretData(a), secretData(b)
	var out []string
	for k, v := range kb {
		if w, ok := ka[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range ka {
		if _, ok := kb[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func secretData(doc []byte) map[string]string {
	out := map[string]string{}
	if len(doc) == 0 {
		return out
	}
	var obj struct {
		Data       map[string]string `json:"data"`
		StringData map[string]string `json:"stringData"`
	}
	if yaml.Unmarshal(doc, &obj) != nil {
		return out
	}
	for k, v := range obj.Data {
		out[k] = v
	}
	for k, v := range obj.StringData {
		out[k] = v
	}
	return out
}

// ComponentOf names the component a repository path belongs to:
// base/<layer>/<component>/…, environments/<env>/<layer>/<component>/…
// and its patches/<component>/…, environments/<env>/secrets/<namespace>/…
// (secrets/<namespace>), the environment's own files (environment), Flux's
// clusters/<env>/… (flux), a layer's own files (the layer), and the rest
// (the repository's README, CI and hooks: repository).
func ComponentOf(path string) string {
	parts := strings.Split(path, "/")
	n := len(parts)
	switch parts[0] {
	case render.BaseDir:
		if n > 3 {
			return parts[2]
		}
		if n == 3 {
			return parts[1]
		}
	case render.EnvironmentsDir:
		switch {
		case n > 4 && parts[2] == "secrets":
			return "secrets/" + parts[3]
		case n > 5 && parts[3] == "patches":
			return parts[4]
		case n > 4:
			return parts[3]
		case n == 4:
			return parts[2]
		case n == 3:
			return "environment"
		}
	case render.ClustersDir:
		return "flux"
	}
	return "repository"
}

// Summarize counts the changes per component, in the order of first change.
func Summarize(changes []FileChange) []Component {
	idx := map[string]int{}
	var out []Component
	for _, c := range changes {
		i, ok := idx[c.Component]
		if !ok {
			i = len(out)
			idx[c.Component] = i
			out = append(out, Component{Name: c.Component})
		}
		s := &out[i]
		switch c.Change {
		case "added":
			s.Added++
		case "removed":
			s.Removed++
		default:
			s.Modified++
		}
		if c.Secret && c.Change == "modified" {
			s.Secrets++
		}
		s.LinesAdded += c.Added
		s.LinesGone += c.Removed
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
