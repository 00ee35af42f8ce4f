package proxy

import (
	"bytes"
	"net"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

// fastBackend starts a fasthttp server answering 1 KiB bodies.
func fastBackend(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1024)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBody(body) }}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// BenchmarkHTTP1 measures one proxied keep-alive request (client, proxy and
// backends in one process, so it shows the proxy's allocations, not its speed
// against nginx: bench/proxy/run.sh does that).
func BenchmarkHTTP1(b *testing.B) {
	p := New(Config{Service: "bench"})
	p.SetEndpoints(platform.Green, []string{fastBackend(b)})
	p.SetEndpoints(platform.Blue, []string{fastBackend(b)})
	p.SetWeights(traffic.Split(platform.Blue, 10))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(b.Context(), ln)
	b.Cleanup(func() { p.Close() })
	client := &fasthttp.HostClient{Addr: ln.Addr().String()}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://" + ln.Addr().String() + "/")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("status %d, %v", resp.StatusCode(), err)
		}
	}
}

// BenchmarkHTTP1Front is BenchmarkHTTP1 through a front proxy that dispatches by
// Host to the service's proxy, as the builtin router serves services; compare
// the two in one run:
//
//	go test -run - -bench 'HTTP1' -count 5 ./internal/proxy
func BenchmarkHTTP1Front(b *testing.B) {
	p := New(Config{Service: "bench"})
	p.SetEndpoints(platform.Green, []string{fastBackend(b)})
	p.SetEndpoints(platform.Blue, []string{fastBackend(b)})
	p.SetWeights(traffic.Split(platform.Blue, 10))
	front := New(Config{Service: "front"})
	front.SetHosts(map[string]*Proxy{"shop.test": p}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go front.Serve(b.Context(), ln)
	b.Cleanup(func() { front.Close(); p.Close() })
	client := &fasthttp.HostClient{Addr: ln.Addr().String()}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	req.SetRequestURI("http://shop.test/")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("status %d, %v", resp.StatusCode(), err)
		}
	}
}
