// Package recorder is a recording in-memory platform and router for sluice's own tests.
// It runs nothing and moves no traffic: it keeps the state a real platform and router
// would have, applies each keyed effect once, and can append every applied effect to a
// JSON-lines file so that a test can count side effects across process restarts.
package recorder
