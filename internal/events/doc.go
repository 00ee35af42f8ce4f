// Package events is the indexed broker of execution console events. Subscribers
// receive an execution's stored backlog and then its live events, in sequence order,
// without gaps or duplicates; a slow subscriber re-reads from the store instead of
// blocking publishers or losing events.
package events
