package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/suitenumerique/docs-appliance/installer/atomicfile"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/suitenumerique/docs-appliance/installer/config"
	"github.com/suitenumerique/docs-appliance/installer/secrets"
)

// ownedRoots are the paths a render of env owns in the repository: files there that the
// render does not produce are removed. The shared base is every environment's and is the
// reference render of the train (see doc.go), so any render writes all of it. Everything else
// — another environment's folders, the .git folder, Flux's own clusters/<env>/flux-system/ —
// is left alone; .sops.yaml is shared and merged rule by rule (sopsrules.go).
func ownedRoots(env string) []string {
	return []string{ClusterDir(env), EnvironmentDir(env), BaseDir, "README.md", preCommitFile, ciValidateFile}
}

// notOwned are paths under owned roots that belong to someone else.
func notOwned(env string) []string {
	return []string{ClusterDir(env) + "/flux-system", ConfigRecord(env)}
}

// ConfigRecord is the file where the environment's appliance records the config it
// rendered from (written by gitops, beside the render: render leaves it alone).
func ConfigRecord(env string) string { return EnvironmentDir(env) + "/appliance.yaml" }

// legacyRoots are the layout before environments (clusters/appliance/ over layers/,
// infrastructure/, apps/, secrets/, the config at the root), which was the default
// environment's: its render removes them — Flux's old sync folder too, so that the old sync
// path fails to build, pruning nothing, until bootstrap points Flux at clusters/<env>.
var legacyRoots = []string{"clusters/appliance", "infrastructure", "layers", "apps", "secrets", "appliance.yaml"}

// legacyOwner is the environment the layout before environments belonged to.
const legacyOwner = config.DefaultEnvironment

// Marker is the file render leaves in a folder it writes on its own (render --out, the dry
// run's folder): Write prunes the owned roots, so render takes only a folder that holds it, that
// it made or found empty, or that an earlier render wrote before the marker existed.
const Marker = ".docs-appliance-render"

// ErrForeignFolder is returned by ClaimDir for a folder render did not write.
var ErrForeignFolder = errors.New("the folder holds files docs-appliance did not create")

// ClaimDir makes dir ready for Write, refusing a folder render did not write: a missing or
// empty folder is made and marked; a marked one is taken as is; one an earlier render wrote
// without the marker (its layout and the .sops.yaml render writes) is marked and taken. Any
// other is refused before anything in it changes, naming what is in it.
func ClaimDir(dir string) error {
	marked, err := CheckDir(dir)
	if err != nil || marked {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	note := "docs-appliance render wrote this folder and rewrites it: do not keep your own files under " + BaseDir + "/, " + EnvironmentsDir + "/ or " + ClustersDir + "/.\n"
	if err := atomicfile.Write(filepath.Join(dir, Marker), []byte(note), 0o644); err != nil {
		return fmt.Errorf("marking %s as render's: %w", dir, err)
	}
	return nil
}

// CheckDir is ClaimDir's check alone, changing nothing, for a caller to refuse the folder before
// doing anything else; marked says the folder holds Marker already.
func CheckDir(dir string) (marked bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("writing the repository to %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, Marker)); err == nil {
		return true, nil
	}
	if len(entries) > 0 && !renderedBefore(dir) {
		names := make([]string, 0, 5)
		for _, e := range entries {
			if len(names) == cap(names) {
				names = append(names, fmt.Sprintf("and %d more", len(entries)-len(names)))
				break
			}
			names = append(names, e.Name())
		}
		return false, fmt.Errorf("writing the repository to %s: %w (%s), and render removes what it does not write under %s: give a new or empty folder to --out, or the one a previous render wrote",
			dir, ErrForeignFolder, strings.Join(names, ", "), BaseDir+"/, "+EnvironmentsDir+"/, "+ClustersDir+"/")
	}
	return false, nil
}

// renderedBefore recognises a folder a render wrote before Marker existed: the .sops.yaml
// render writes (its first line) and the clusters folder.
func renderedBefore(dir string) bool {
	sops, err := os.ReadFile(filepath.Join(dir, ".sops.yaml"))
	header, _, _ := bytes.Cut(secrets.SOPSConfig(nil), []byte("\n"))
	if err != nil || !bytes.HasPrefix(sops, append(header, '\n')) {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, ClustersDir))
	return err == nil && st.IsDir()
}

// WriteReport says what a write changed.
type WriteReport struct {
	Written   []string `json:"written"`
	Removed   []string `json:"removed"`
	Unchanged int      `json:"unchanged"`
	// Base lists the files of the shared base that were written or removed, and SharedWith
	// the other environments of the repository: their builds change with it.
	Base       []string `json:"base,omitempty"`
	SharedWith []string `json:"sharedWith,omitempty"`
}

// BaseChanged reports whether the write changed the shared base.
func (w *WriteReport) BaseChanged() bool { return len(w.Base) > 0 }

// Changed reports whether the write changed anything.
func (w *WriteReport) Changed() bool { return len(w.Written)+len(w.Removed) > 0 }

// Write puts the rendered files under dir, writing only files whose
// content changed and removing stale ones under the owned roots. A Secret
// whose existing encrypted file decrypts (with id) to the same object is
// kept byte for byte; any other Secret is encrypted for recipients. A folder
// that is not the appliance's own (a clone it made) is claimed first with
// ClaimDir.
func Write(dir string, res *Result, id *age.X25519Identity, recipients []string) (*WriteReport, error) {
	env := res.Environment
	if env == "" {
		env = config.DefaultEnvironment
	}
	if err := config.ValidEnvironment(env); err != nil {
		return nil, fmt.Errorf("writing repository: environment: %w", err)
	}
	roots, skip := ownedRoots(env), notOwned(env)
	legacy := env == legacyOwner
	if legacy {
		roots = append(roots, legacyRoots...)
	}
	others, err := otherEnvironments(dir, env)
	if err != nil {
		return nil, err
	}
	rep := &WriteReport{SharedWith: others}
	want := map[string]bool{}
	for _, f := range res.Files {
		if strings.Contains(f.Path, "..") || filepath.IsAbs(f.Path) {
			return nil, fmt.Errorf("writing repository: refusing path %q", f.Path)
		}
		want[f.Path] = true
		full := filepath.Join(dir, filepath.FromSlash(f.Path))
		existing, err := os.ReadFile(full)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("reading %s: %w", f.Path, err)
		}
		content := f.Content
		if f.MergeRules {
			if content, err = mergeSOPSRules(existing, f.Content, legacy); err != nil {
				return nil, err
			}
		}
		if f.Secret {
			if existing != nil && sameSecret(existing, f.Content, id) && sameRecipients(existing, recipients) {
				rep.Unchanged++
				continue
			}
			content, err = secrets.Encrypt(f.Content, recipients)
			if err != nil {
				return nil, fmt.Errorf("encrypting %s: %w", f.Path, err)
			}
		} else if bytes.Equal(existing, content) {
			rep.Unchanged++
			continue
		}
		mode := fs.FileMode(0o644)
		if f.Secret {
			mode = 0o600
		}
		if err := atomicfile.Write(full, content, mode); err != nil {
			return nil, fmt.Errorf("writing repository: %w", err)
		}
		rep.Written = append(rep.Written, f.Path)
	}
	removed, err := prune(dir, want, roots, skip)
	if err != nil {
		return nil, err
	}
	rep.Removed = removed
	sort.Strings(rep.Written)
	for _, p := range append(append([]string(nil), rep.Written...), rep.Removed...) {
		if strings.HasPrefix(p, BaseDir+"/") {
			rep.Base = append(rep.Base, p)
		}
	}
	sort.Strings(rep.Base)
	return rep, nil
}

// sameSecret reports whether an encrypted file holds the same object as a
// plain one. Values are compared after decryption: re-encrypting would
// change every byte (new data key and IVs) for nothing.
func sameSecret(encrypted, plain []byte, id *age.X25519Identity) bool {
	if id == nil {
		return false
	}
	dec, err := secrets.Decrypt(encrypted, id)
	if err != nil {
		return false
	}
	var a, b map[string]any
	if yaml.Unmarshal(dec, &a) != nil || yaml.Unmarshal(plain, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

func sameRecipients(encrypted []byte, recipients []string) bool {
	have, err := secrets.FileRecipients(encrypted)
	if err != nil {
		return false
	}
	a := append([]string(nil), have...)
	b := append([]string(nil), recipients...)
	sort.Strings(a)
	sort.Strings(b)
	return reflect.DeepEqual(a, b)
}

func prune(dir string, want map[string]bool, roots, notOwned []string) ([]string, error) {
	var removed []string
	for _, root := range roots {
		full := filepath.Join(dir, filepath.FromSlash(root))
		err := filepath.WalkDir(full, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			for _, n := range notOwned {
				if rel == n || strings.HasPrefix(rel, n+"/") {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			if d.IsDir() || want[rel] {
				return nil
			}
			if err := os.Remove(p); err != nil {
				return err
			}
			removed = append(removed, rel)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("removing stale files under %s: %w", root, err)
		}
		removeEmptyDirs(full)
	}
	sort.Strings(removed)
	return removed, nil
}

// otherEnvironments lists the environments of the repository besides env: the folders
// under environments/ and clusters/ (the layout before environments counts as the
// default environment's).
func otherEnvironments(dir, env string) ([]string, error) {
	seen := map[string]bool{}
	for _, top := range []string{EnvironmentsDir, ClustersDir} {
		entries, err := os.ReadDir(filepath.Join(dir, top))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("listing the repository's environments: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if top == ClustersDir && name == "appliance" && env != "appliance" {
				// Flux's folder of the layout before environments (unless "appliance" is env's name).
				name = legacyOwner
			}
			if e.IsDir() && name != env {
				seen[name] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// removeEmptyDirs deletes folders left empty by pruning, deepest first.
func removeEmptyDirs(root string) {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i]) // fails, as wanted, when not empty
	}
}
