// Package servertest runs a whole sluice server (server.Run) inside a test, with
// its data in a temporary directory, and drives executions through its API, for
// tests of other packages that need the real assembly (verification end to end).
package servertest
