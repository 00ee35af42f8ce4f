// Package proxy is sluice's built-in data plane: a weighted reverse proxy for one
// service that splits traffic between the blue and green slots.
//
// A Proxy holds an immutable routing table (weights, instances, rules, mirroring)
// behind an atomic pointer, so a change made with SetWeights, SetEndpoints, SetRules
// or SetMirror applies to the next request without locking and never disturbs a
// request already in flight.
//
// Plain HTTP/1.1 is served, on Linux, by event loops (loop_linux.go: one epoll
// instance per GOMAXPROCS, parked in Go's netpoller, non-blocking sockets read and
// written directly — a round's receives and sends batched through io_uring where
// the kernel allows (loopbatch_linux.go, uring_linux.go), and while busy, events
// left to gather for a few microseconds between rounds so that one wake-up serves
// several requests —, heads parsed in place by loophttp.go, upstream keep-alive
// pools per loop). What the
// loops do not take (TLS, h2c, upgrades, chunked or Expect request bodies,
// HTTP/1.0, mirroring, host dispatch) is handed with the bytes already read to the
// general path, where HTTP/1.1 is a fasthttp server with keep-alive upstream pools.
// HTTP/2 (h2c prior knowledge or TLS with ALPN) and gRPC are served by net/http and
// httputil.ReverseProxy; WebSocket upgrades are hijacked and spliced in both
// directions. ModeTCP splits whole connections by weight instead of requests.
//
// Every request is counted per slot (status class, latency histogram, in-flight,
// bytes). Snapshot reads the counters in process and AdminHandler serves them in
// Prometheus text format together with the current weights and instance health.
package proxy
