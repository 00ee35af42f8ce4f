// Package enginetest runs a real engine for tests: a SQLite store in a temporary
// directory (or a store the test brings), the recording platform and router, and
// helpers to apply documents, start executions and wait for them. Step runners
// (verify, loadtest) test themselves through it, inside the real engine. Clock is a
// fake engine clock that tests advance instead of sleeping.
package enginetest
