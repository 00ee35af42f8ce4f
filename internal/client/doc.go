// Package client is a typed Go client of sluice's HTTP API, including Follow, which
// streams an execution's console over Server-Sent Events and resumes after a dropped
// connection without losing or repeating events.
package client
