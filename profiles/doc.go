// Package profiles owns sizing and topology presets: how many servers, the
// host minimums preflight enforces, replicas and resources per workload,
// storage sizes, and which optional components (observability, policy)
// run. Profiles are YAML files embedded in the binary.
package profiles
