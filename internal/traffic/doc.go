// Package traffic defines how a service's traffic is split between its slots. Routers
// live in sub-packages (builtin proxy, Istio, Gateway API) and, with internal/recorder
// (a recording router for sluice's own tests), all pass the conformance suite in
// traffictest/. The Kubernetes routers (istio, gatewayapi) share their
// weight-writing skeleton in kuberoute/.
package traffic
