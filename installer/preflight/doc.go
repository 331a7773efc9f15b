// Package preflight owns the checks run before anything is installed: host checks on the server
// that will run k3s (CPU, memory, disk, ports, default route, clock, kernel features, other
// runtimes, host name, address ranges, DNS), and cluster checks when installing onto an existing
// Kubernetes cluster (version range, nodes, images).
//
// Checks are data: each has an ID, the severity its failure carries, what it checks and how to
// fix a failure; thresholds come from the chosen profile. Run and CheckCluster return a Report
// that renders as text (with the fix of every failure) or JSON, and whose Err carries the exit
// code: 0 when every check passed or only warned, ExitFailed when one failed. Checks named in
// Options.Ignore are not run and the report says so.
//
// Every file a check reads goes through a host.Root, so tests run each check on real fixture
// files; ports are probed by binding real sockets.
package preflight
