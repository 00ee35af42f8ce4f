package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/traffic"
)

func TestWeightsHonoured(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	blue := newBackend(t, platform.Blue, "b0", nil)
	p, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, []*backend{blue})
	const n = 10000
	for _, blueShare := range []int{10, 50, 90} {
		t.Run(traffic.Split(platform.Blue, blueShare).String(), func(t *testing.T) {
			must(t, p.SetWeights(traffic.Split(platform.Blue, blueShare)))
			before := p.Snapshot()
			counts, failed := loadFast(t, addr, "/", n, 16)
			if failed != 0 {
				t.Fatalf("%d failed requests", failed)
			}
			prob := float64(blueShare) / 100
			sd := math.Sqrt(n * prob * (1 - prob))
			got := float64(counts["blue"])
			if math.Abs(got-n*prob) > 3*sd {
				t.Errorf("blue got %v of %d, want %v ± %.0f (3 sd)", got, n, n*prob, 3*sd)
			}
			if counts["blue"]+counts["green"] != n {
				t.Errorf("counts %v do not add up to %d", counts, n)
			}
			win := p.Snapshot().Sub(before)
			if win.Blue.Success() != uint64(counts["blue"]) || win.Green.Success() != uint64(counts["green"]) {
				t.Errorf("metrics window blue=%d green=%d, observed %v", win.Blue.Success(), win.Green.Success(), counts)
			}
		})
	}
}

func TestWeightFlipsDropNothing(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		io.WriteString(w, "slow")
	}
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/slow": slow})
	blue := newBackend(t, platform.Blue, "b0", map[string]http.HandlerFunc{"/slow": slow})
	p, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, []*backend{blue})
	stop := make(chan struct{})
	var flips atomic.Int64
	go func() {
		ws := []traffic.Weights{traffic.All(platform.Blue), traffic.All(platform.Green), traffic.Split(platform.Blue, 50)}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			p.SetWeights(ws[i%len(ws)])
			flips.Add(1)
		}
	}()
	var wg sync.WaitGroup
	var failed, total atomic.Int64
	for _, path := range []string{"/", "/slow"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts, bad := loadFast(t, addr, path, 3000, 16)
			failed.Add(int64(bad))
			for _, c := range counts {
				total.Add(int64(c))
			}
		}()
	}
	wg.Wait()
	close(stop)
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed while weights flipped %d times", failed.Load(), flips.Load())
	}
	if flips.Load() < 10 {
		t.Fatalf("only %d flips happened during the load", flips.Load())
	}
	t.Logf("%d requests, %d flips, 0 failures", total.Load(), flips.Load())
}

func TestHeaderAndCookieRules(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	blue := newBackend(t, platform.Blue, "b0", nil)
	p, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, []*backend{blue})
	must(t, p.SetRules([]Rule{{Header: "X-Canary", Value: "1", Slot: platform.Blue}, {Cookie: "beta", Slot: platform.Blue}}))
	client := newClient()
	tests := []struct {
		name string
		hdr  http.Header
		want string
	}{
		{"no match goes by weight", nil, "green"},
		{"header match", http.Header{"X-Canary": {"1"}}, "blue"},
		{"header other value", http.Header{"X-Canary": {"0"}}, "green"},
		{"cookie present", http.Header{"Cookie": {"a=b; beta=yes"}}, "blue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			counts, failed := load(t, client, "http://"+addr+"/", 50, 1, tc.hdr)
			if failed != 0 || counts[tc.want] != 50 {
				t.Fatalf("got %v (failed %d), want all 50 on %s", counts, failed, tc.want)
			}
		})
	}
	if err := p.SetRules([]Rule{{Header: "x", Cookie: "y", Slot: platform.Blue}}); err == nil {
		t.Error("a rule with both header and cookie was accepted")
	}
}

func TestStickySessions(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	blue := newBackend(t, platform.Blue, "b0", nil)
	p, addr := newTestProxy(t, Config{StickyCookie: "sluice_slot"}, traffic.Split(platform.Blue, 50), []*backend{green}, []*backend{blue})
	client := newClient()
	for user := 0; user < 20; user++ {
		resp, err := client.Get("http://" + addr + "/")
		must(t, err)
		resp.Body.Close()
		first := resp.Header.Get("X-Slot")
		cookie := resp.Header.Get("Set-Cookie")
		if !strings.HasPrefix(cookie, "sluice_slot="+first+";") {
			t.Fatalf("first answer from %s set cookie %q", first, cookie)
		}
		for i := 0; i < 20; i++ {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
			req.Header.Set("Cookie", "sluice_slot="+first)
			resp, err := client.Do(req)
			must(t, err)
			resp.Body.Close()
			if got := resp.Header.Get("X-Slot"); got != first {
				t.Fatalf("user stuck to %s got %s on request %d", first, got, i)
			}
			if resp.Header.Get("Set-Cookie") != "" {
				t.Fatalf("sticky answer set the cookie again")
			}
		}
	}
	// A sticky slot that loses its weight no longer holds the user.
	must(t, p.SetWeights(traffic.All(platform.Green)))
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Header.Set("Cookie", "sluice_slot=blue")
	resp, err := client.Do(req)
	must(t, err)
	resp.Body.Close()
	if got := resp.Header.Get("X-Slot"); got != "green" {
		t.Fatalf("cookie for a slot at weight 0 was honoured: got %s", got)
	}
	if c := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(c, "sluice_slot=green;") {
		t.Fatalf("re-routed user got cookie %q", c)
	}
}

func TestHeadersForwarded(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	_, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = "shop.example"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("Proxy-Authorization", "secret")
	req.Header.Set("Connection", "X-Custom-Hop")
	req.Header.Set("X-Custom-Hop", "drop me")
	resp, err := newClient().Do(req)
	must(t, err)
	resp.Body.Close()
	checks := map[string]string{
		"X-Seen-Forwarded-For":       "203.0.113.7, 127.0.0.1",
		"X-Seen-Forwarded-Proto":     "http",
		"X-Seen-Forwarded-Host":      "shop.example",
		"X-Seen-Proxy-Authorization": "",
		"X-Seen-Custom-Hop":          "",
	}
	for k, want := range checks {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestHeadKeepsContentLength(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	_, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	resp, err := newClient().Head("http://" + addr + "/")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len("green/g0")) {
		t.Fatalf("HEAD: status %d content length %d, want 200 and %d", resp.StatusCode, resp.ContentLength, len("green/g0"))
	}
	// The connection is still usable after a bodiless response.
	counts, failed := load(t, newClient(), "http://"+addr+"/", 10, 1, nil)
	if failed != 0 || counts["green"] != 10 {
		t.Fatalf("after HEAD: %v failed %d", counts, failed)
	}
}

func TestNoHealthyInstance(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	t.Run("falls back to the other slot", func(t *testing.T) {
		p, addr := newTestProxy(t, Config{}, traffic.All(platform.Blue), []*backend{green}, nil)
		counts, failed := load(t, newClient(), "http://"+addr+"/", 20, 1, nil)
		if failed != 0 || counts["green"] != 20 {
			t.Fatalf("got %v failed %d, want 20 on green", counts, failed)
		}
		if fb := p.Snapshot().Blue.Fallbacks; fb != 20 {
			t.Fatalf("blue fallbacks = %d, want 20", fb)
		}
	})
	t.Run("502 when neither slot has one", func(t *testing.T) {
		p, addr := newTestProxy(t, Config{}, traffic.All(platform.Blue), nil, nil)
		resp, err := newClient().Get("http://" + addr + "/")
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
		if e := p.Snapshot().Blue.ProxyErrors(); e != 1 {
			t.Fatalf("proxy errors = %d, want 1", e)
		}
	})
}

func TestInstanceKilledMidLoad(t *testing.T) {
	g0 := newBackend(t, platform.Green, "g0", nil)
	g1 := newBackend(t, platform.Green, "g1", nil)
	p, addr := newTestProxy(t, Config{EjectDuration: time.Minute}, traffic.All(platform.Green), []*backend{g0, g1}, nil)
	client := newClient()
	var wg sync.WaitGroup
	wg.Add(1)
	var failedDuring int
	go func() {
		defer wg.Done()
		_, failedDuring = load(t, client, "http://"+addr+"/", 2000, 8, nil)
	}()
	time.Sleep(20 * time.Millisecond)
	g1.srv.CloseClientConnections()
	g1.srv.Listener.Close()
	g1.srv.CloseClientConnections()
	wg.Wait()
	// Requests in flight on the killed instance may fail; there are at most as
	// many as there were concurrent workers.
	if failedDuring > 8 {
		t.Fatalf("%d requests failed around the kill, want at most 8", failedDuring)
	}
	t.Logf("%d requests failed around the kill", failedDuring)
	counts, failed := load(t, client, "http://"+addr+"/", 500, 4, nil)
	if failed != 0 || counts["green"] != 500 {
		t.Fatalf("after the kill: %v failed %d, want all 500 fine", counts, failed)
	}
	for _, in := range p.Instances() {
		if in.Addr == g1.addr() && in.Healthy {
			t.Fatalf("killed instance %s still in rotation", in.Addr)
		}
		if in.Addr == g0.addr() && !in.Healthy {
			t.Fatalf("live instance %s taken out", in.Addr)
		}
	}
}

func TestEjectedInstanceProbedBack(t *testing.T) {
	g0 := newBackend(t, platform.Green, "g0", nil)
	p, addr := newTestProxy(t, Config{EjectDuration: 50 * time.Millisecond, ProbeInterval: 20 * time.Millisecond}, traffic.All(platform.Green), []*backend{g0}, nil)
	in := p.table.Load().pools[0].instances[0]
	in.eject(50 * time.Millisecond)
	resp, err := newClient().Get("http://" + addr + "/")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status with the only instance ejected = %d, want 502", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !in.healthy() {
		if time.Now().After(deadline) {
			t.Fatal("a reachable instance was not probed back within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAdminEndpoints(t *testing.T) {
	green := newBackend(t, platform.Green, "g0", nil)
	blue := newBackend(t, platform.Blue, "b0", nil)
	p, addr := newTestProxy(t, Config{Service: "shop"}, traffic.Split(platform.Blue, 10), []*backend{green}, []*backend{blue})
	load(t, newClient(), "http://"+addr+"/", 100, 2, nil)
	h := p.AdminHandler()

	rec := serve(h, "/metrics")
	body := rec.Body.String()
	for _, want := range []string{
		`sluice_proxy_requests_total{service="shop",slot="green",class="2xx"}`,
		`sluice_proxy_request_duration_seconds_bucket{service="shop",slot="blue",le="+Inf"}`,
		`sluice_proxy_weight{service="shop",slot="blue"} 10`,
		`sluice_proxy_in_flight{service="shop",slot="green"} 0`,
		`sluice_proxy_instance_healthy{service="shop",slot="green",instance="` + green.addr() + `"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	var wv weightsView
	must(t, json.Unmarshal(serve(h, "/weights").Body.Bytes(), &wv))
	if wv.Weights != traffic.Split(platform.Blue, 10) {
		t.Errorf("/weights = %+v", wv.Weights)
	}
	var inst []InstanceHealth
	must(t, json.Unmarshal(serve(h, "/instances").Body.Bytes(), &inst))
	if len(inst) != 2 || !inst[0].Healthy || inst[0].Slot != platform.Green {
		t.Errorf("/instances = %+v", inst)
	}
	s := p.Snapshot()
	if n := s.Green.Requests() + s.Blue.Requests(); n != 100 {
		t.Errorf("snapshot counts %d requests, want 100", n)
	}
	if q := s.Green.Quantile(0.99); q <= 0 || q > 10*time.Second {
		t.Errorf("p99 estimate %v", q)
	}
	if s.Green.BytesOut == 0 || s.Green.InFlight != 0 {
		t.Errorf("bytes out %d in flight %d", s.Green.BytesOut, s.Green.InFlight)
	}
}

func TestQuantileEstimate(t *testing.T) {
	var m slotMetrics
	for i := 0; i < 1000; i++ {
		m.observeLatency(time.Duration(i) * time.Microsecond) // uniform 0..1ms
	}
	s := m.snapshot()
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.9, 900 * time.Microsecond}, {0.99, 990 * time.Microsecond}}
	for _, tc := range tests {
		got := s.Quantile(tc.q)
		if d := got - tc.want; d < -100*time.Microsecond || d > 100*time.Microsecond {
			t.Errorf("q%.2f = %v, want about %v", tc.q, got, tc.want)
		}
	}
	if (SlotMetrics{}).Quantile(0.5) != 0 {
		t.Error("empty histogram has a quantile")
	}
}

func TestShutdownWaitsForInFlight(t *testing.T) {
	started := make(chan struct{})
	slow := func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(100 * time.Millisecond)
		io.WriteString(w, "done")
	}
	green := newBackend(t, platform.Green, "g0", map[string]http.HandlerFunc{"/slow": slow})
	p, addr := newTestProxy(t, Config{}, traffic.All(platform.Green), []*backend{green}, nil)
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := newClient().Get("http://" + addr + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{string(b), err}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, p.Shutdown(ctx))
	r := <-res
	if r.err != nil || r.body != "done" {
		t.Fatalf("in-flight request during shutdown: %q, %v", r.body, r.err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("listener still accepts after shutdown")
	}
}

// What may have been acted on is never sent twice: an instance that reads each
// request and closes without answering gets a POST once and a GET a bounded
// number of times; the client gets 502 for both.
func TestFastPathSendsAPostOnce(t *testing.T) {
	var posts, gets atomic.Int32
	addr := tcpServer(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		if req.Method == "POST" {
			posts.Add(1)
		} else {
			gets.Add(1)
		}
	})
	p := New(Config{Service: "web", DisableEventLoop: true, FailureThreshold: -1})
	must(t, p.SetEndpoints(platform.Green, []string{addr}))
	c := dialRaw(t, startProxy(t, p))
	resp, _ := c.roundTrip(t, "POST / HTTP/1.1\r\nHost: web\r\nContent-Length: 2\r\n\r\nhi", "POST")
	if resp.StatusCode != http.StatusBadGateway || posts.Load() != 1 {
		t.Fatalf("POST: status %d, instance saw it %d times; want 502, once", resp.StatusCode, posts.Load())
	}
	resp, _ = c.roundTrip(t, "GET / HTTP/1.1\r\nHost: web\r\n\r\n", "GET")
	if resp.StatusCode != http.StatusBadGateway || gets.Load() != 2*upstreamAttempts {
		t.Fatalf("GET: status %d, instance saw it %d times; want 502, %d", resp.StatusCode, gets.Load(), 2*upstreamAttempts)
	}
}

// After an instance restarts, every idle connection to it is closed; a GET that
// meets them is still answered, on a new connection.
func TestFastPathSurvivesAnInstanceRestart(t *testing.T) {
	var mu sync.Mutex
	var conns []net.Conn
	addr := tcpServer(t, func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		r := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(r)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			time.Sleep(20 * time.Millisecond) // so that concurrent requests open their own connections
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	p := New(Config{Service: "web", DisableEventLoop: true, FailureThreshold: -1})
	must(t, p.SetEndpoints(platform.Green, []string{addr}))
	proxyAddr := startProxy(t, p)
	if _, failed := loadFast(t, proxyAddr, "/", 40, 8); failed != 0 {
		t.Fatalf("%d requests failed before the restart", failed)
	}
	mu.Lock()
	if len(conns) <= upstreamAttempts {
		t.Fatalf("the proxy opened %d connections; the test needs more than %d idle ones", len(conns), upstreamAttempts)
	}
	for _, c := range conns { // the instance "restarts": it closes every connection
		c.Close()
	}
	mu.Unlock()
	c := dialRaw(t, proxyAddr)
	resp, body := c.roundTrip(t, "GET / HTTP/1.1\r\nHost: web\r\n\r\n", "GET")
	if resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("after the restart: %d %q", resp.StatusCode, body)
	}
}
