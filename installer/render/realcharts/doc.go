// Package realcharts is the release gate (`make check-real-charts
// CHARTS=DIR`): it renders a train from its real packaged charts in every
// variant an operator can choose — profile × TLS mode × embedded or external
// identity and storage × air-gapped — and checks each render the way a real
// cluster would take it:
//
//   - every object is sent to a real API server (the envtest kit's) as a
//     server-side apply dry run with strict field validation, the CRDs of
//     the render itself (and Flux's, from the embedded install manifests)
//     applied first, each variant on a fresh server;
//   - every encrypted file of the written repository is decrypted with the
//     real sops CLI and must equal the plain Secret render produced;
//   - every Secret and ConfigMap a rendered object names (secretKeyRef,
//     configMapKeyRef, envFrom, volumes, image pull secrets, kind: Secret
//     references) exists among the rendered objects with the named key, or
//     is made at run time by a rendered object (a cert-manager Certificate, a
//     CloudNativePG Cluster, Envoy Gateway's certgen Job);
//   - every image a rendered object uses is pinned by the train;
//   - every chart archive is the chart the train pins, and every image
//     linked to a chart is the release the chart ships (or the train says
//     why not).
//
// Variants whose renders are byte-identical to one already checked are
// listed as such and not checked twice. The result is a table of variants
// × objects × rejections; any rejection fails the gate.
//
// It needs the real charts, which are never in the repository: `make
// charts` on a connected machine (after `make lock`), or any folder of
// <name>-<version>.tgz. It is not part of `make test`; its own tests run
// it on charts they make.
package realcharts
