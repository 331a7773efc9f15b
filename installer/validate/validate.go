package validate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/suitenumerique/docs-appliance/bundles"
)

// Options say what a repository is validated against.
type Options struct {
	// Train gives the images that may run and the Flux release whose CRDs are known. Nil: images
	// must still be pinned by digest, but membership in a train is not checked (a git server
	// that was given no train), and the CRDs of every Flux release the binary embeds are known.
	Train *bundles.Train
	// Decrypt, when given, opens every SOPS-encrypted file (the age keys the caller holds,
	// installer/secrets); an error wrapping ErrWrongKey says none of its keys fits.
	Decrypt func(encrypted []byte) ([]byte, error)
	// FluxManifests gives a Flux release's install manifests (gitops.FluxManifests, embedded in
	// the installer), whose CRDs are then known: a render has no Flux components of its own. Nil
	// knows only the CRDs of the repository (a bootstrapped repository carries Flux's in
	// flux-system/gotk-components.yaml) and CRDs: the git server's hook, whose image stays small.
	FluxManifests func(version string) (fs.FS, error)
	// FluxVersions are the releases FluxManifests is asked for without a train.
	FluxVersions []string
	// CRDs are served by the cluster beside the repository's and Flux's own (CRDs installed out
	// of band).
	CRDs []*unstructured.Unstructured
}

// ErrWrongKey says no key given to Decrypt opens a file.
var ErrWrongKey = errors.New("no given age key can decrypt this file")

// Run validates the repository in dir. The error is for a validation that could not run (no
// such folder); what it found is in the report, whose Err says whether it passed.
func Run(ctx context.Context, dir string, o Options) (*Report, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("validating %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("validating %s: not a folder", dir)
	}
	rep := &Report{Dir: dir, Kustomizations: []string{}}
	if o.Train != nil {
		rep.Train = o.Train.Name
	}
	t, err := loadTree(dir, rep)
	if err != nil {
		return nil, err
	}
	sch := newSchemas()
	versions := o.FluxVersions
	if o.Train != nil {
		versions = []string{o.Train.Flux.Version}
	}
	for _, v := range versions {
		if o.FluxManifests == nil {
			break
		}
		if err := sch.learnFlux(v, o.FluxManifests); err != nil {
			return nil, fmt.Errorf("loading Flux %s's CRDs: %w", v, err)
		}
	}
	for _, c := range o.CRDs {
		if err := sch.learn(c.Object); err != nil {
			return nil, fmt.Errorf("loading CRD %s: %w", c.GetName(), err)
		}
	}

	t.checkSecretFiles(o.Decrypt, rep)
	all := t.kustomizations()
	if len(all) == 0 {
		rep.add(Finding{File: ".", Rule: RulePath, Message: "the repository holds no Flux Kustomization (kustomize.toolkit.fluxcd.io): Flux would apply nothing of it",
			Fix: "validate the desired-state repository's root, which holds clusters/<name>/ with the Flux Kustomizations"})
	}
	checkDependsOn(all, rep)
	seen := map[string]bool{}
	var objs []object
	for _, ks := range all {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if src := ks.sourceKind(); src != "GitRepository" {
			// An OCIRepository or Bucket holds other files than this repository's.
			rep.NotEvaluated = append(rep.NotEvaluated, "Kustomization "+ks.id()+": its source is not this repository but a "+src)
			continue
		}
		rep.Kustomizations = append(rep.Kustomizations, ks.id()+": "+ks.path)
		for _, ob := range t.build(ks, rep) {
			id := ob.key.full()
			if seen[id] {
				continue
			}
			seen[id] = true
			objs = append(objs, ob)
		}
	}
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].file < objs[j].file })
	rep.Objects = len(objs)
	// The repository's CRDs win over Flux's: they are what the cluster will serve.
	for _, ob := range objs {
		if ob.key.group == "apiextensions.k8s.io" && ob.key.kind == "CustomResourceDefinition" {
			if err := sch.learn(ob.obj); err != nil {
				rep.add(Finding{File: ob.file, Object: ob.key.String(), Rule: RuleSchema, Message: "the CRD does not decode: " + err.Error(), Fix: "correct the CRD"})
			}
		}
	}
	rules := policyRules(objs, rep)
	p := trainPins(o.Train)
	for _, ob := range objs {
		sch.checkSchema(ob, rep)
		checkBuiltSecret(ob, rep)
		checkJobForce(ob, rep)
		checkImages(ob, p, rep)
		checkPolicies(ob, rules, rep)
	}
	rep.finish()
	return rep, nil
}

// ForceAnnotation makes Flux replace an object rather than patch it.
const ForceAnnotation = "kustomize.toolkit.fluxcd.io/force"

// checkJobForce: a Job's pod template is immutable, so Flux must recreate a changed Job.
func checkJobForce(o object, rep *Report) {
	if o.key.group != "batch" || o.key.kind != "Job" {
		return
	}
	md, _ := o.obj["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	if ann[ForceAnnotation] == "enabled" {
		return
	}
	spec, _ := o.ks.obj["spec"].(map[string]any)
	if force, _ := spec["force"].(bool); force {
		return
	}
	rep.add(Finding{File: o.file, Object: o.key.String(), Rule: RuleJobForce,
		Message: "a Job without " + ForceAnnotation + ": enabled: its template is immutable, so the next change to it fails to apply and blocks " + o.ks.id(),
		Fix:     "add the annotation " + ForceAnnotation + ": enabled to the Job's metadata"})
}

// ErrNoRepository says a folder to validate was not given and could not be found.
var ErrNoRepository = errors.New("no desired-state repository to validate")
