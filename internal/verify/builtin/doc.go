// Package builtin is the verification provider that reads the built-in router's
// per-slot counters in process, with no scrape delay. Its query language is a
// metric name, optionally with an argument: error_rate, p99_ms, slow_rate(250)
// and the others listed in docs/verification.md.
package builtin
