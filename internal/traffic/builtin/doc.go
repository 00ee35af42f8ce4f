// Package builtin is the router of sluice's own weighted proxy: a traffic.Router that
// runs one internal/proxy.Proxy per service on the environment's listen address, with
// an optional admin listener (/metrics, /weights, /instances).
//
// The instances behind each slot come from an EndpointSource (the local platform):
// the router reads them when a service is ensured, follows the source's change
// notifications (EndpointsChanged, wired to local.Options.OnEndpoints) and re-reads
// them periodically as a safety net. Weights are applied atomically by the proxy and
// read back from its live routing table. Metrics exposes each service's per-slot
// counters in process for the builtin verification provider.
//
// See docs/builtin-router.md.
package builtin
