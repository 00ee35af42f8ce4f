// Package verify judges a canary: it defines the Provider interface that every
// source of verification data implements, the judges (threshold expressions,
// Mann-Whitney comparison, a sequential test that stops early with a bounded
// false-alarm rate) as pure functions, and the verify step runner that measures at
// an interval, applies per-metric limits and records every measurement with the
// execution.
//
// Providers live in sub-packages, one per source: builtin (the built-in router's
// counters), prometheus, newrelic, datadog, sumologic, loki, victorialogs and httpjson
// (any JSON endpoint); package
// providers builds one from an environment's ProviderSpec, and verifytest is the
// conformance suite each of them passes.
package verify
