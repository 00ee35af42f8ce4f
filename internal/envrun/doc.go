// Package envrun turns an environment into its runtime: the platform that runs
// its instances, the router that splits its traffic and the providers that
// verify it. Registry is the one list of the platform, router and provider types
// an environment may name, each with the check of its settings beside its
// constructor; Check runs those checks for `sluice validate` and apply, so bad
// settings are reported with their position before a release, and Resolve runs
// them again before building. Runtimes keeps one platform and router per
// environment (the local platform and builtin router hold state across
// executions and server restarts) and implements engine.Resolver.
package envrun
