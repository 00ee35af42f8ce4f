// Package engine runs executions of workflows. Each execution is driven by one
// goroutine through a table of small status handlers; every step's start, the intent of
// each side effect and its outcome are committed to the store before the engine moves
// on, so an execution killed at any instant resumes without repeating or losing a side
// effect. Platforms, routers and the event publisher are plugged in through small
// interfaces declared here, by their consumer.
package engine
