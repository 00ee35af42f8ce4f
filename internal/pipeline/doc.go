// Package pipeline runs Pipeline documents: one release moving through several
// environments as ordered (or parallel) stages, each an ordinary execution of a
// workflow, with gates (approval, soak) between them.
//
// A pipeline run is a durable record of its own (store.PipelineRun, migration 7),
// leased by the server that drives it exactly as executions are, so a run survives a
// restart and moves to another server when its owner dies. The Runner drives each run
// it owns as a level-triggered reconciler: it reads the run, looks at its stages'
// executions in the store, and takes the next step, writing its intent before every
// side effect (starting a stage, rolling one back, undoing one) so that a crash never
// repeats or loses one. People's decisions (approve, reject, abort) are written into
// the run's record by whichever server receives them, which wakes the owner (its own
// driver, or another server through Options.Announce: PostgreSQL's NOTIFY); the owner
// otherwise acts on them at its next look.
//
// A run's log is its event stream: each line is an event typed with the vocabulary of
// package events (events.TypePipeline...), published on the Runner's own broker when
// written here and re-read from the stored run otherwise (Subscribe, stream.go).
package pipeline
