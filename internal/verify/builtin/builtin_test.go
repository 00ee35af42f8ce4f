package builtin_test

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/builtin"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

// source serves the counters of real proxies by service, as the built-in router does.
type source map[string]*proxy.Proxy

func (s source) Metrics(service string) (proxy.MetricsSnapshot, error) {
	px, ok := s[service]
	if !ok {
		return proxy.MetricsSnapshot{}, errors.New("unknown service " + service)
	}
	return px.Snapshot(), nil
}

// backend answers 500 to every n-th request when failEvery > 0 and sleeps delay.
func backend(t *testing.T, failEvery int, delay time.Duration) string {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		fail := failEvery > 0 && n%failEvery == 0
		mu.Unlock()
		time.Sleep(delay)
		if fail {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// startProxy runs a real proxy in front of a healthy green and a blue that fails
// one request in four, half the traffic each.
func startProxy(t *testing.T) (*proxy.Proxy, string) {
	px := proxy.New(proxy.Config{Service: "shop", FailureThreshold: -1})
	must(t, px.SetEndpoints(platform.Green, []string{backend(t, 0, 0)}))
	must(t, px.SetEndpoints(platform.Blue, []string{backend(t, 4, 2*time.Millisecond)}))
	must(t, px.SetWeights(traffic.Split(platform.Blue, 50)))
	return px, serve(t, px)
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	return ln
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// send makes n requests through the proxy.
func send(t *testing.T, url string, n int) {
	for range n {
		resp, err := http.Get(url)
		must(t, err)
		resp.Body.Close()
	}
}

func TestConformance(t *testing.T) {
	px, url := startProxy(t)
	idle, _ := startProxy(t)
	p := builtin.New(source{"shop": px, "idle": idle}, nil)
	must(t, p.Watch(context.Background(), "shop"))
	must(t, p.Watch(context.Background(), "idle"))
	send(t, url, 400)
	snap := px.Snapshot()
	blue := float64(snap.Blue.Requests())
	if blue < 100 {
		t.Fatalf("only %v requests reached blue", blue)
	}
	q := func(text string, slot platform.Slot) verify.Query {
		return verify.Query{Text: text, Service: "shop", Slot: slot, End: time.Now(), Window: time.Hour}
	}
	blueErrors := float64(snap.Blue.ServerErrors())
	verifytest.Run(t, verifytest.Fixture{
		Provider: p,
		Known: []verifytest.Case{
			{Name: "blue requests", Query: q("requests", platform.Blue), Want: blue},
			{Name: "blue error rate", Query: q("error_rate", platform.Blue), Want: blueErrors / blue, Tolerance: 1e-9},
			{Name: "green error rate", Query: q("error_rate", platform.Green), Want: 0},
			{Name: "green errors", Query: q("errors", platform.Green), Want: 0},
			{Name: "blue is slower than 1ms", Query: q("slow_rate(1)", platform.Blue), Want: 1},
			{Name: "latency map", Query: q("latency_ms", platform.Blue), Want: math.NaN(),
				Values: map[string]float64{"p50": snap.Blue.Quantile(0.5).Seconds() * 1000}, Tolerance: 1e-9},
		},
		NoData:  verify.Query{Text: "p99_ms", Service: "idle", Slot: platform.Green, End: time.Now(), Window: time.Hour},
		Invalid: q("rate(http_requests_total[5m])", platform.Blue),
	})
}

func TestWindows(t *testing.T) {
	px, url := startProxy(t)
	p := builtin.New(source{"shop": px}, nil)
	ctx := context.Background()
	q := verify.Query{Text: "requests", Service: "shop", Slot: platform.Green, End: time.Now(), Window: time.Minute}
	if _, err := p.Query(ctx, q); !errors.Is(err, verify.ErrNoData) {
		t.Fatalf("first reading: %v, want ErrNoData (no start for the window)", err)
	}
	send(t, url, 100)
	first, err := p.Query(ctx, q)
	must(t, err)
	send(t, url, 100)
	// A window shorter than the time since the last reading starts there: it sees
	// only the requests since.
	time.Sleep(5 * time.Millisecond)
	q.Window = time.Millisecond
	second, err := p.Query(ctx, q)
	must(t, err)
	total := float64(px.Snapshot().Green.Requests())
	if first.Value+second.Value != total {
		t.Fatalf("windows %v + %v != %v requests", first.Value, second.Value, total)
	}
	r, err := p.Query(ctx, verify.Query{Text: "error_rate", Service: "shop", Slot: platform.Blue, End: time.Now(), Window: time.Hour})
	must(t, err)
	if r.Tally == nil || r.Tally.Trials == 0 || r.Tally.Events/r.Tally.Trials != r.Value {
		t.Fatalf("error_rate tally %+v for value %v", r.Tally, r.Value)
	}
	if _, err := p.Query(ctx, verify.Query{Text: "slow_rate(3.3)", Service: "shop", Slot: platform.Blue, Window: time.Hour}); err == nil {
		t.Fatalf("slow_rate off the histogram's bounds was accepted")
	}
	if _, err := p.Query(ctx, verify.Query{Text: "requests", Service: "nope", Slot: platform.Blue, Window: time.Hour}); err == nil {
		t.Fatalf("unknown service answered")
	}
}

func TestWithoutBuiltinRouter(t *testing.T) {
	p := builtin.New(nil, nil)
	if err := p.Check(context.Background()); err == nil {
		t.Fatalf("Check without the built-in router succeeded")
	}
}

// TestFirstWindowAfterAPause: an analysis that starts long after the provider's
// last reading (another canary's, minutes ago) and asks for a window a little
// longer than the time since its Watch reading gets the requests since the
// Watch, not everything since the old reading.
func TestFirstWindowAfterAPause(t *testing.T) {
	px, url := startProxy(t)
	p := builtin.New(source{"shop": px}, nil)
	ctx := context.Background()
	must(t, p.Watch(ctx, "shop"))
	send(t, url, 100) // an earlier analysis's requests
	q := verify.Query{Text: "requests", Service: "shop", Slot: platform.Green, Window: 100 * time.Millisecond}
	_, err := p.Query(ctx, q)
	must(t, err)
	time.Sleep(300 * time.Millisecond) // the pause between analyses
	send(t, url, 40)                   // traffic in the pause, before this analysis
	before := px.Snapshot().Green.Requests()
	must(t, p.Watch(ctx, "shop")) // this analysis starts
	send(t, url, 20)
	r, err := p.Query(ctx, q)
	must(t, err)
	if want := float64(px.Snapshot().Green.Requests() - before); r.Value != want {
		t.Fatalf("first window after the pause counted %v green requests, want %v (those since the Watch)", r.Value, want)
	}
}
