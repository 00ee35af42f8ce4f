// Package store defines how sluice persists definitions (workflows, environments),
// executions with their journal and console events, and the live slot of each service.
// Implementations live in sqlite/ and postgres/ and all pass the conformance suite in
// storetest/.
package store
