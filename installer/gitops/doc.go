// Package gitops hands the appliance over to Git and Flux, and waits for Flux to converge.
//
//   - The bootstrap layer, applied by the installer itself (server-side apply): the flux-system
//     namespace, the appliance's age key as flux-system/sops-age, Flux's source credentials, and
//     (in-cluster mode) the git server (namespace, accounts Secret, volume, Deployment, Service,
//     NetworkPolicy). These are the chicken-and-egg objects Flux cannot bring itself.
//   - The desired-state repository: cloned into a private work folder, rendered over, committed
//     only when something changed with a message that says what and why, pushed.
//   - Flux bootstrap with flux2's pkg/bootstrap from install manifests embedded in the binary
//     (manifests/<version>/, produced by `make flux-manifests`, see package fluxbuild): nothing is
//     downloaded at install time.
//   - Convergence: every Flux Kustomization Ready at the pushed revision, reported per
//     Kustomization as it moves; on timeout the error names each one that is not, its condition
//     and the objects of its inventory that are not ready.
//
// Every step decides from the cluster and the repository whether it has work, so a killed
// install, run again, finishes the job, and an unchanged rerun commits nothing and restarts
// nothing.
package gitops
