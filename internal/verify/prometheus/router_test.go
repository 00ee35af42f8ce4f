package prometheus_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

// failing answers 500 to every failEvery-th request.
func failing(t *testing.T, failEvery int) string {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		fail := n%failEvery == 0
		mu.Unlock()
		if fail {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestRouterMetricsThroughPrometheus is the path an environment without the
// builtin provider takes: a real proxy's /metrics scraped by a real Prometheus
// every second, and the verify step judging PromQL over those series. Blue fails
// one request in five, so its error rate condition fails; its latency passes.
func TestRouterMetricsThroughPrometheus(t *testing.T) {
	px := proxy.New(proxy.Config{Service: "shop", FailureThreshold: -1})
	for slot, every := range map[platform.Slot]int{platform.Green: 1000, platform.Blue: 5} {
		if err := px.SetEndpoints(slot, []string{failing(t, every)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := px.SetWeights(traffic.Split(platform.Blue, 50)); err != nil {
		t.Fatal(err)
	}
	ln, admin := listen(t), listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); px.Close() })
	go px.Serve(ctx, ln)
	adminSrv := &http.Server{Handler: px.AdminHandler()}
	go adminSrv.Serve(admin)
	t.Cleanup(func() { adminSrv.Close() })
	s := startServer(t, admin.Addr().String())

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if resp, err := http.Get("http://" + ln.Addr().String()); err == nil {
					resp.Body.Close()
				}
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	waitScraped(t, newProvider(t, "http://"+s.addr, nil), `sum(count_over_time(up{job="router"}[1m]))`, 2)

	sel := `service="{{service}}",slot="{{slot}}"`
	vs := &spec.VerifyStep{Interval: spec.Duration(3 * time.Second), Count: 3, Metrics: []spec.MetricCheck{
		{Name: "p99", Provider: "prom", SuccessCondition: "result < 1", InconclusiveLimit: 1,
			Query: `histogram_quantile(0.99, sum by (le) (rate(sluice_proxy_request_duration_seconds_bucket{` + sel + `}[{{window}}])))`},
		{Name: "error-rate", Provider: "prom", SuccessCondition: "result < 0.05", InconclusiveLimit: 1,
			Query: `sum(rate(sluice_proxy_requests_total{` + sel + `,class=~"5xx|error"}[{{window}}])) / sum(rate(sluice_proxy_requests_total{` + sel + `}[{{window}}]))`},
	}}
	io := verifytest.NewIO(false, time.Time{})
	st := verify.NewStep(oneProvider{newProvider(t, "http://"+s.addr, nil)})
	actx, acancel := context.WithTimeout(context.Background(), time.Minute)
	defer acancel()
	err := st.Analyse(actx, verify.Job{Verify: vs, Service: "shop", Canary: platform.Blue, Baseline: platform.Green, Started: time.Now()}, io)
	var ve *verify.VerdictError
	if !errors.As(err, &ve) || ve.Verdict != verify.Failed || ve.Metric != "error-rate" {
		t.Fatalf("got %v, want error-rate Failed\n%s", err, io.Text())
	}
	ms := io.Measurements(t)
	if !strings.Contains(ms[len(ms)-1].Canary.Query, `slot="blue"`) || !strings.Contains(err.Error(), "result < 0.05") {
		t.Fatalf("%v\n%s", err, io.Text())
	}
	t.Logf("%v", err)
}

// waitScraped waits (at most 30 s) until query gives at least n: until Prometheus
// has scraped the target often enough for rates over the first window.
func waitScraped(t *testing.T, p verify.Provider, query string, n float64) {
	for range 120 {
		r, err := p.Query(context.Background(), verify.Query{Text: query, End: time.Now(), Window: time.Minute})
		if err == nil && r.Value >= n {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("Prometheus did not scrape the router twice within 30 s")
}
