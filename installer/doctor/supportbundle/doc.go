// Package supportbundle writes `doctor --support-bundle FILE`: one tar.gz
// an operator can send to whoever supports the appliance, holding
//
//	manifest.json                  what was collected, what was not and why, what was redacted
//	doctor.json                    doctor's report
//	config/appliance.yaml          the saved config
//	node/host.json                 OS, kernel, memory, disk and inode use (when k3s is on this host)
//	node/k3s.journal.log           the end of k3s's journal (idem)
//	cluster/version.json, nodes.json
//	flux/<kind>.yaml, conditions.txt  Flux's objects and each one's conditions
//	namespaces/<ns>/               objects.yaml, events.txt, pods.txt, secrets.txt (names and keys only)
//	logs/<ns>/<pod>/<container>.log, .previous.log   the end of each container's log
//
// for the appliance's namespaces (those it labels as its own, flux-system
// and the git server's). A bundle is written whatever could not be
// collected: the manifest says what is missing.
//
// Redaction is the point of it. Before anything is written the Redactor
// learns every value of the secret store (opened read-only with the age
// key; a store that cannot be opened stops the bundle unless the caller
// accepts less), the age key, the kubeconfig's credentials, k3s's join
// tokens and every value of every Secret in those namespaces, each in its
// encodings (base64 at any offset, JSON- and URL-escaped, a PEM line by
// line); and it finds by shape age keys, private keys, JWTs, bearer and
// basic credentials, passwords in URLs and credential fields. Each is
// replaced by a marker naming what it was: "[redacted: secret-store
// tls.privateKey]". Redaction streams, holding back a look-ahead so a
// value split across read chunks is still caught. Values shorter than
// MinLen are handled by where they come from (see MinLen); a Secret's
// identifier keys holding a plain name (username, host, port, dbname:
// identifierKeys) are not searched for. The manifest names every value
// left alone, never the value. Secrets are never put in, nor the age key
// file or the secret store file.
package supportbundle
