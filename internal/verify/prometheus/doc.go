// Package prometheus is the verification provider that runs PromQL through the
// Prometheus HTTP API: instant queries for a value, range queries (with a step
// chosen to stay under Prometheus's 11,000 points) for a sample; "NaN" and empty
// results are no data, warnings are passed on, and any odd answer is an error.
package prometheus
