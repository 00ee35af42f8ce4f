package loadtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counter is an instance that counts the requests it answers.
type counter struct {
	n   atomic.Int64
	srv *httptest.Server
}

func newCounter(t *testing.T, h http.HandlerFunc) *counter {
	t.Helper()
	c := &counter{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *counter) addr() string { return strings.TrimPrefix(c.srv.URL, "http://") }

func testConfig(targets []string, rate int, d time.Duration) config {
	return config{urls: urlsOf(targets, "/"), method: "GET", rate: rate, concurrency: 8, duration: d, timeout: 2 * time.Second}
}

func runGenerator(t *testing.T, cfg config) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	g := newGenerator(cfg)
	start := time.Now()
	g.run(ctx, start)
	return g.report(start)
}

func TestGeneratorSendsTheScheduledRequestsRoundRobin(t *testing.T) {
	for _, tc := range []struct {
		name        string
		instances   int
		rate        int
		concurrency int
		duration    time.Duration
		want        int64
	}{
		{"one instance", 1, 100, 4, 300 * time.Millisecond, 30},
		{"three instances", 3, 200, 8, 300 * time.Millisecond, 60},
		{"rate below one per duration rounds up", 2, 1, 1, 100 * time.Millisecond, 1},
		{"one worker", 2, 50, 1, 200 * time.Millisecond, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cs []*counter
			var addrs []string
			for range tc.instances {
				c := newCounter(t, nil)
				cs, addrs = append(cs, c), append(addrs, c.addr())
			}
			cfg := testConfig(addrs, tc.rate, tc.duration)
			cfg.concurrency = tc.concurrency
			r := runGenerator(t, cfg)
			// every scheduled request is sent or counted unsent (open loop: on a loaded
			// machine a request whose moment passed is not sent late)
			if r.Requests+r.Unsent != tc.want || r.Successes != r.Requests || r.Requests == 0 {
				t.Fatalf("requests %d, successes %d, unsent %d; want %d scheduled, all sent ones answered", r.Requests, r.Successes, r.Unsent, tc.want)
			}
			for i, c := range cs {
				share := r.Requests / int64(tc.instances)
				if got := c.n.Load(); got < share || got > share+1 {
					t.Errorf("instance %d got %d requests, want %d or %d (round robin)", i, got, share, share+1)
				}
			}
			if r.TargetRate != float64(tc.rate) || r.AchievedRate <= 0 {
				t.Errorf("target rate %v, achieved %v", r.TargetRate, r.AchievedRate)
			}
		})
	}
}

// TestGeneratorPacesRequestsOverTheDuration checks the open model's schedule: the
// requests are spread over the duration, not sent in a burst at the start. Slow
// machines can only delay requests, so the bound holds however loaded the host is.
func TestGeneratorPacesRequestsOverTheDuration(t *testing.T) {
	var mu sync.Mutex
	var arrivals []time.Time
	c := newCounter(t, func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
	})
	start := time.Now()
	r := runGenerator(t, testConfig([]string{c.addr()}, 100, 500*time.Millisecond))
	if r.Requests != 50 {
		t.Fatalf("%d requests, want 50", r.Requests)
	}
	mu.Lock()
	defer mu.Unlock()
	early := 0
	for _, a := range arrivals {
		if a.Before(start.Add(250 * time.Millisecond)) {
			early++
		}
	}
	if early > 26 {
		t.Fatalf("%d of 50 requests arrived in the first half of the duration; the schedule is not paced", early)
	}
	if r.AchievedRate < 50 || r.AchievedRate > 110 {
		t.Logf("achieved %.0f/s of 100/s (informational)", r.AchievedRate)
	}
}

func TestGeneratorCountsErrorsByKind(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		addr    string
		kind    string
	}{
		{"server error", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }, "", ErrKind5xx},
		{"client error", http.NotFound, "", ErrKind4xx},
		{"refused connection", nil, closedAddr, ErrKindConnect},
		{"no answer in time", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}, "", ErrKindTimeout},
		{"connection closed mid-answer", func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"))
				conn.Close()
			}
		}, "", ErrKindOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr
			if addr == "" {
				addr = newCounter(t, tc.handler).addr()
			}
			cfg := testConfig([]string{addr}, 50, 100*time.Millisecond)
			cfg.timeout = 100 * time.Millisecond
			r := runGenerator(t, cfg)
			if r.Requests != 5 || r.Errors[tc.kind] != 5 || r.ErrorRate != 1 {
				t.Fatalf("requests %d, errors %v, rate %v; want 5 of kind %s", r.Requests, r.Errors, r.ErrorRate, tc.kind)
			}
		})
	}
}

// TestGeneratorMeasuresLatencyFromTheDueTime checks that a slow target cannot hide
// its latency by holding the generator back: with one worker and a target that takes
// 40ms, requests due every 10ms wait, and the wait counts in their latency.
func TestGeneratorMeasuresLatencyFromTheDueTime(t *testing.T) {
	c := newCounter(t, func(http.ResponseWriter, *http.Request) { time.Sleep(40 * time.Millisecond) })
	cfg := testConfig([]string{c.addr()}, 100, 300*time.Millisecond)
	cfg.concurrency = 1
	r := runGenerator(t, cfg)
	if r.Unsent == 0 || r.Requests+r.Unsent != 30 {
		t.Fatalf("requests %d, unsent %d: want some unsent and 30 in all", r.Requests, r.Unsent)
	}
	if r.Latency.Max < 100 {
		t.Fatalf("max latency %.1fms: the queueing behind a slow target is not counted", r.Latency.Max)
	}
}

func TestGeneratorStopsAtOnceWhenCancelled(t *testing.T) {
	c := newCounter(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	g := newGenerator(testConfig([]string{c.addr()}, 100, time.Minute))
	done := make(chan struct{})
	go func() {
		g.run(ctx, time.Now())
		close(done)
	}()
	for deadline := time.Now().Add(5 * time.Second); c.n.Load() < 5 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the generator still runs 5s after its context was cancelled")
	}
	// Requests already on the wire when it stopped may still be counted by the
	// server; wait until arrivals have stopped (at 100/s a running generator sends one
	// every 10 ms, so 100 ms of quiet cannot happen while it still sends), then check
	// that none arrive later.
	n, quietSince := c.n.Load(), time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Since(quietSince) < 100*time.Millisecond; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("requests keep arriving 5s after the generator stopped")
		}
		if now := c.n.Load(); now != n {
			n, quietSince = now, time.Now()
		}
	}
	time.Sleep(300 * time.Millisecond)
	if after := c.n.Load(); after != n {
		t.Fatalf("%d requests arrived after the generator stopped and the in-flight ones were counted", after-n)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.9, 900 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		t.Run(tc.want.String(), func(t *testing.T) {
			got := h.quantile(tc.q)
			if got < tc.want || float64(got) > float64(tc.want)*1.04 {
				t.Fatalf("quantile %v = %v, want %v within +4%%", tc.q, got, tc.want)
			}
		})
	}
	if h.max != time.Second || h.mean() != 500500*time.Microsecond {
		t.Fatalf("max %v, mean %v", h.max, h.mean())
	}
}

func TestHistogramBucketsCoverEveryValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 123456, 1 << 40, 1<<63 - 1} {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets || bucketUpper(i) < v || (i > 0 && bucketUpper(i-1) >= v) {
			t.Errorf("value %d: bucket %d with upper bound %d", v, i, bucketUpper(i))
		}
	}
}

func TestScheduleArithmetic(t *testing.T) {
	for _, tc := range []struct {
		rate     int
		duration time.Duration
		want     int
		lastDue  time.Duration
	}{
		{30, 100 * time.Millisecond, 3, 66666666},
		{20, time.Minute, 1200, time.Minute - 50*time.Millisecond},
		{3, 1500 * time.Millisecond, 5, 1333333333},
		{1, 10 * time.Millisecond, 1, 0},
		{1000000, time.Hour, 3600000000, time.Hour - time.Microsecond},
	} {
		t.Run(fmt.Sprintf("%d/s for %s", tc.rate, tc.duration), func(t *testing.T) {
			g := &generator{cfg: config{rate: tc.rate, duration: tc.duration}}
			n := g.cfg.requests()
			if n != tc.want {
				t.Fatalf("%d requests, want %d", n, tc.want)
			}
			if got := g.offset(n - 1); got != tc.lastDue || got >= tc.duration {
				t.Fatalf("last request due at %v, want %v (before %v)", got, tc.lastDue, tc.duration)
			}
		})
	}
}

// urlsOf makes the generator's URLs from instance addresses and a path.
func urlsOf(addrs []string, path string) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = "http://" + a + path
	}
	return out
}
