// Package upgrade owns the upgrade plan: the path through the train graph,
// and per hop the version changes (k3s, Flux, Docs, every chart and image),
// the exact change of the desired-state repository between the hop's two
// renders (SOPS-encrypted files compared by their decrypted content, never
// shown), the disk the new images need and what the hop cannot undo; and
// the gates as they stand now. It computes and prints; reading the
// appliance and the cluster is the installer's (installer/upgradeplan.go).
package upgrade
