// Package bundles owns release trains: the pinned set of k3s, Flux, charts,
// images and the Docs version that one appliance release ships, the upgrade
// graph between trains, and the chart store that finds a train's charts in
// the binary, an imported bundle or a folder.
//
// Trains are YAML files under trains/, embedded in the binary and validated
// on load so that a bad field is reported by its path before anything runs.
package bundles
