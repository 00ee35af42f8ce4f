// Package store defines how sluice persists definitions (workflows, environments),
// executions with their journal and console events, and the live slot of each service.
// Implementations live in sqlite/ and postgres/ and all pass the conformance suite in
// storetest/; the SQL they share (queries, row scanning, filters, write rules) is
// written once in sqlstore/, with the differences between the databases in a Dialect.
package store
