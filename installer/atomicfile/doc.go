// Package atomicfile writes files so that a reader, or a run killed half-way, only ever sees
// the old content or the whole new content: data goes to a temporary file beside the target,
// is synced, and is renamed into place. It is the one way the appliance writes a file that
// matters (config, secret store, age key, rendered repository, host files, bundles).
package atomicfile
