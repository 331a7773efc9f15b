// Package secrets owns everything secret: the appliance's age key, the
// secret store in the state folder (generated with crypto/rand or given by
// the operator, each value recorded with its origin, kept SOPS-encrypted),
// and SOPS encryption and decryption of Kubernetes Secrets with
// getsops/sops/v3 used as a library, in the exact shape Flux's
// kustomize-controller decrypts.
//
// Nothing here prints or logs a secret value; files are written 0600.
package secrets
