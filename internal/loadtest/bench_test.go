package loadtest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchWorkers is the concurrency of both sides of BenchmarkOverhead.
const benchWorkers = 16

// BenchmarkOverhead measures how many requests per second the generator can issue
// against a trivial local server when its schedule is never the limit, beside a plain
// net/http client loop with the same concurrency and transport settings as the
// baseline. The ratio of the two is the generator's own overhead (scheduling,
// round robin, per-request timeouts, histogram).
func BenchmarkOverhead(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	b.Run("generator", func(b *testing.B) {
		g := newGenerator(config{
			urls: urlsOf([]string{addr}, "/"), method: "GET", rate: 1_000_000_000, concurrency: benchWorkers,
			duration: time.Hour, timeout: 5 * time.Second, count: b.N,
		})
		start := time.Now()
		b.ResetTimer()
		g.run(context.Background(), start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		if r := g.report(start); r.Successes != int64(b.N) {
			b.Fatalf("%d successes of %d: %v", r.Successes, b.N, r.Errors)
		}
	})

	b.Run("net/http-loop", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: benchWorkers,
			DisableCompression:  true,
		}}
		defer client.CloseIdleConnections()
		var next atomic.Int64
		var failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		b.ResetTimer()
		for range benchWorkers {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					resp, err := client.Get(srv.URL + "/")
					if err != nil {
						failed.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		if failed.Load() > 0 {
			b.Fatalf("%d requests failed", failed.Load())
		}
	})
}
