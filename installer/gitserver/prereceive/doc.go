// Package prereceive is the in-cluster git server's pre-receive hook: every push to a branch is
// validated (package validate, the checks of `docs-appliance validate`) on the tree it would
// make the branch's head, and refused with the findings when it does not pass, so broken intent
// never reaches Flux. The pusher sees the report as git's "remote:" lines.
//
// A push may skip the check only by saying so: `git push -o docs-appliance.skip-validation=
// "REASON"` (a non-empty reason); the hook then accepts it and records who skipped, why and
// what, in the server's log (the git server relays the hook's record file, see
// gitserver.Server). The repository must advertise push options (receive.advertisePushOptions,
// set by the server's Init).
//
// The train: the server's image knows nothing of release trains, and the hook must not trust
// what the pushed tree says of itself (a push could declare its own pins). So the server is
// given the appliance's train as a file (its -train flag, mounted from the git server's Secret,
// written by install from the train it installs); the hook reads it on every push, so a new
// train applies without a restart. Without one the hook still requires every image pinned by
// digest, and says that membership in a train was not checked. The installer's own pushes of a
// new train's render run the same validation locally against that train before pushing (the
// Secret may lag behind by a kubelet sync), and so push with the skip option naming that.
//
// The hook has no age key: it checks that Secrets are encrypted, not that they decrypt.
package prereceive
