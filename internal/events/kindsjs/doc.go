// Command kindsjs writes internal/ui/static/js/kinds.js, the UI's copy of the
// console event types in package events, so the JavaScript names the same kinds
// the engine emits. Run it through go generate in internal/events; a test fails
// when the committed file is stale.
package main
