// Package server assembles a running sluice: the store, the engine, the runtimes
// of environments (internal/envrun), the event broker and the HTTP API.
package server
