// Package metrics serves sluice's own Prometheus metrics: executions by status and
// workflow, step durations, verification verdicts, provider errors, rollbacks and
// their time to put all traffic back, approvals waiting, and the four DORA figures
// (release frequency, lead time, change failure rate, time to restore).
//
// Every number is derived from the store — the executions, their engine state and
// their durable events — rather than from counters kept in the process. The numbers
// therefore survive restarts and failover, and every server sharing a PostgreSQL
// database reports the same values (aggregate them with max, not sum). A finished
// execution never changes, so its facts are read once and cached; a running one is
// read incrementally, from the last event seen. See docs/metrics.md.
package metrics
