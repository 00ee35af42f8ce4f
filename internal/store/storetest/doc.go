// Package storetest is the conformance suite every store.Store implementation passes.
// An implementation's test calls Run with a function that opens a fresh, empty store
// and registers its own cleanup; the suite may call Close itself, so Close must be
// safe to call twice.
package storetest
