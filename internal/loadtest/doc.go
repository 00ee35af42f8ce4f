// Package loadtest implements the workflow's loadtest step: it sends generated HTTP
// load straight to the instances of one slot (not through the router, so the share
// of real users on the canary does not change) at a fixed rate for a duration, and
// fails the step when the error rate or the 99th-percentile latency is above the
// workflow's limits.
//
// The generator is an open model: request i is due at start + i/rate whatever the
// earlier responses did, and its latency is measured from the time it was due, so a
// target that slows down cannot hide its latency by slowing the generator down
// (coordinated omission). At most a fixed number of requests are in flight.
package loadtest
