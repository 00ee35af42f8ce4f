// Package sampleapp is a small HTTP service used by demos and tests: its version,
// latency, error rate and start-up behaviour are set by configuration, so a "good" and
// a "bad" version can be deployed side by side.
//
// It serves three endpoints:
//
//	/         JSON {"version","service","slot","instance","status"}; a share of requests
//	          (ErrorRate) answers 500
//	/healthz  200 "ok" once started
//	/version  the version as plain text
//
// Randomness (jitter, which requests fail) comes from a seeded generator, so a test that
// sets Seed sees the same sequence every run.
package sampleapp
