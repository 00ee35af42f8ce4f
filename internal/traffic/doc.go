// Package traffic defines how a service's traffic is split between its slots. Routers
// live in sub-packages (builtin proxy, Istio, Gateway API, and a recorder for tests) and
// all pass the conformance suite in traffictest/.
package traffic
