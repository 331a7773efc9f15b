// Package ha holds the three-node end-to-end test (build tag e2e; see main_test.go) and the
// reading of its prober's results (Measure), which is tested without a cluster.
package ha
