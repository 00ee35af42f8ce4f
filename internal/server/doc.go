// Package server assembles a running sluice: the store, the engine, the wiring of
// platforms, routers and providers, the event broker and the HTTP API.
package server
