// Package events is the indexed broker of console events, and the one vocabulary of
// their types (kinds.go). Subscribers receive an execution's (or a pipeline run's)
// stored backlog and then its live events, in sequence order, without gaps or
// duplicates; a slow subscriber re-reads from the store instead of blocking
// publishers or losing events.
package events
