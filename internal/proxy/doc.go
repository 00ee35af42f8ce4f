// Package proxy is sluice's built-in data plane: a weighted reverse proxy for one
// service that splits traffic between the blue and green slots.
//
// A Proxy holds an immutable routing table (weights, instances, rules, mirroring)
// behind an atomic pointer, so a change made with SetWeights, SetEndpoints, SetRules
// or SetMirror applies to the next request without locking and never disturbs a
// request already in flight.
//
// Plain HTTP/1.1 is served by a fasthttp fast path with keep-alive upstream pools.
// HTTP/2 (h2c prior knowledge or TLS with ALPN) and gRPC are served by net/http and
// httputil.ReverseProxy; WebSocket upgrades are hijacked and spliced in both
// directions. ModeTCP splits whole connections by weight instead of requests.
//
// Every request is counted per slot (status class, latency histogram, in-flight,
// bytes). Snapshot reads the counters in process and AdminHandler serves them in
// Prometheus text format together with the current weights and instance health.
package proxy
