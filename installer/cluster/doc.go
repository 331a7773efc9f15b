// Package cluster owns the installer's conversation with a Kubernetes API server: building a client
// from a kubeconfig, decoding manifests into objects, server-side apply of a list of objects with
// the field manager "docs-appliance" (CustomResourceDefinitions first, then Namespaces, then the
// rest), waiting with kstatus until objects are Current (and naming what is not, and why, when they
// are not), and port-forwarding a loopback port to a Service or Pod.
//
// It holds no installer logic: what to apply and when is decided by its callers.
package cluster
