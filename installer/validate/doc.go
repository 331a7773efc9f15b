// Package validate checks a desired-state repository offline, before Flux ever sees it: what
// `docs-appliance validate`, the rendered repository's pre-commit hook and CI step, and the
// in-cluster git server's pre-receive hook run. Every finding names the file, the object
// (kind namespace/name), the rule, what is wrong and the fix; a Report is text or JSON and its
// Err is a *FailedError (exit code 1) when anything was found.
//
// The checks, each derived from the repository's own objects and the train, not from the
// appliance's examples:
//
//   - build: every Flux Kustomization (kustomize.toolkit.fluxcd.io Kustomization, wherever it
//     is in the tree) has its spec.path built the way kustomize-controller builds it, with
//     fluxcd/pkg/kustomize: its generator (a kustomization.yaml made for a folder that has none,
//     the Kustomization's patches, images and namespace applied), then kustomize over a
//     filesystem confined to the repository, written in memory so the checkout is never
//     touched. A missing file, a broken patch or YAML that does not parse is a finding.
//   - depends-on: dependsOn names a Kustomization of the tree, and dependsOn forms no cycle.
//   - schema: every built object against the schema of its kind. Built-in kinds by strict
//     decoding into the k8s.io/api types the binary is built with (unknown and duplicate fields,
//     wrong types); custom resources by the apiextensions-apiserver validation code (the
//     OpenAPI schema of the CRD's version, and its structural pruning for unknown fields), with
//     the CRDs the repository's own builds carry, those of the train's Flux (Options.
//     FluxManifests: the installer passes the manifests it embeds; the git server's hook does
//     not, a bootstrapped repository carries them in flux-system/gotk-components.yaml, and its
//     image stays free of the installer) and any the caller adds. kubeconform's library would need JSON schemas fetched
//     from the network or embedded by the megabyte; the API types and apiextensions are already
//     in the binary (the installer applies objects with them), work offline and are the code an
//     API server runs. Their version is the client libraries' (a newer minor than the train's
//     Kubernetes at most): a field added after the train's version is not caught.
//   - secrets: every kind: Secret, in a file of the tree or built by kustomize (a
//     secretGenerator), is SOPS-encrypted; with Options.Decrypt (the caller's age keys), every
//     SOPS-encrypted file decrypts, and no value of a decrypted Secret appears in a plain file
//     (values of 8 characters or more that are not plain identifiers: a user or host name a
//     Secret holds beside its password is configuration, not a leak).
//   - job-force: every batch Job carries kustomize.toolkit.fluxcd.io/force: enabled (or its
//     Kustomization has spec.force): a Job's template is immutable, so a changed Job must be
//     replaced, not patched.
//   - images: every image a built object names (containers of any pod template, image and
//     imageName fields of custom resources, images handed in env values and arguments) is
//     pinned by digest, and the train pins that digest for that repository. Flux's own
//     controllers (objects labelled app.kubernetes.io/part-of: flux, written by bootstrap from
//     the binary's manifests) name images by tag: for them the train's tag is enough.
//   - kyverno: the ClusterPolicies the repository itself carries (the appliance's baseline,
//     installer/render/policy.go, and any the operator adds), evaluated in Go against every pod
//     template of the built objects: validate.pattern rules (Kyverno's pattern language: *, ?,
//     !, |, ?* and the =() optional anchor) and validate.podSecurity rules (with
//     k8s.io/pod-security-admission, the checks Kyverno itself runs). Only what admission would
//     refuse is a finding: a rule in Enforce for the object's namespace (failureAction, the
//     older validationFailureAction, or a failureActionOverrides entry); Audit rules are left to
//     the cluster's policy reports. A rule using what this evaluator does not know (other
//     anchors, operators, CEL, deny conditions) is listed in Report.NotEvaluated.
//
// Speed: the rendered example repository (97 objects, every layer built, every Secret
// decrypted) in 0.5 s (1.1 s when the shared 2-core machine is busy) (BenchmarkValidateRenderedRepository);
// most of it is kustomize's own YAML handling. A repository carrying every upstream CRD of the
// train (19 MB, 182 objects) takes about 7 s of CPU and 300 MB of live heap.
//
// Nothing is printed or logged of a secret value; findings name the Secret and the file only.
package validate
