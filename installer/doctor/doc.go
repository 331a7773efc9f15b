// Package doctor checks a running appliance from the host to a user's
// browser: host, cluster, GitOps (drift included), secrets, platform
// (database, backups, restore checks, cache, object store, identity), edge,
// the application, and the user path (DNS, TLS, the API, OIDC, media auth,
// websocket, S3). Every check has a stable ID and a group, and answers
// pass, warn, fail or skip with one line of detail and, when it is not a
// pass, a fix an operator can act on without knowing Kubernetes.
//
// Checks only read: none changes the host, the cluster or the repository.
// That is why they are not steps on installer/steps' engine (whose steps
// change things and stop at the first failure): doctor runs every check,
// in parallel, each under its own deadline, and reports them all. The
// user-path checks are also the last step of install (installer.Install).
//
// The exit codes follow troubleshoot.sh's convention: 0 every check passed,
// 4 warnings only, 3 a check failed, 1 doctor itself could not run.
package doctor
