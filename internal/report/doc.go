// Package report builds the one-page release report of an execution from its
// record and console: what ran and who started it, every verification verdict
// with its numbers, who approved and why, when traffic moved, and a rollback's
// cause and its time to 100/0. It reads only what the engine stored (already
// redacted) and writes JSON or Markdown; it does no I/O of its own.
package report
