// Package engine runs executions of workflows. Each execution is driven by one
// goroutine through a table of small status handlers; every step's start, the intent of
// each side effect and its outcome are committed to the store before the engine moves
// on, so an execution killed at any instant resumes without repeating or losing a side
// effect. It drives platforms and routers through the interfaces of packages platform
// and traffic (platform.Platform, traffic.Router); what it declares itself is what
// only it consumes: Resolver (an environment to its runtime), Publisher (durable events
// to followers) and StepRunner (step types that live outside it, such as verify and
// loadtest). People's requests (approve, rollback, pause, ...) are stored before they
// are delivered, so any server sharing the store accepts them (requests.go).
//
// It also declares the part of the store it uses (Store, store.go) and its Clock
// (clock.go), which tells the time and drives every timer, so tests advance a fake
// clock (enginetest.Clock) instead of sleeping.
package engine
