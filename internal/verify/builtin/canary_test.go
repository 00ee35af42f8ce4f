package builtin_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/proxy"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/builtin"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

type oneSource struct{ p verify.Provider }

func (o oneSource) Provider(context.Context, string, *spec.Environment, string) (verify.Provider, error) {
	return o.p, nil
}

// load sends rps requests per second through url, open loop, until stop closes,
// and counts the 5xx answers of blue (the proxy's own counters say which slot
// answered).
func load(url string, rps int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(time.Second / time.Duration(rps))
	wg.Go(func() {
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				wg.Go(func() {
					if resp, err := client.Get(url); err == nil {
						resp.Body.Close()
					}
				})
			}
		}
	})
	return &wg
}

// TestSequentialOnRealTraffic runs the verify step with the sequential judge on
// the builtin provider while real traffic flows through a real proxy: 200
// requests/s, 10% to blue; green fails one request in a hundred. A blue that
// fails one in five must be stopped on its own within a bounded number of
// evaluations (the test reports how long it took and how many of blue's requests
// failed meanwhile); a blue as good as green must pass an analysis long enough
// for the judge's minimum evidence (57 canary requests; about 20/s here).
func TestSequentialOnRealTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("sends real traffic for a few seconds")
	}
	tests := []struct {
		name      string
		failEvery int
		span      time.Duration
		want      verify.Verdict
	}{
		{"bad canary (20% errors)", 5, 20 * time.Second, verify.Failed},
		{"good canary (1% errors)", 100, 10 * time.Second, verify.Successful},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			px := proxy.New(proxy.Config{Service: "shop", FailureThreshold: -1})
			must(t, px.SetEndpoints(platform.Green, []string{backend(t, 100, 0)}))
			must(t, px.SetEndpoints(platform.Blue, []string{backend(t, tt.failEvery, 0)}))
			must(t, px.SetWeights(traffic.Split(platform.Blue, 10)))
			url := serve(t, px)
			stop := make(chan struct{})
			wg := load(url, 200, stop)
			defer func() { close(stop); wg.Wait() }()

			before, start := px.Snapshot(), time.Now()
			vs := &spec.VerifyStep{Interval: spec.Duration(tt.span), Metrics: []spec.MetricCheck{
				{Name: "errors-vs-live", Provider: "router", Query: "error_rate", Judge: "sequential"}}}
			io := verifytest.NewIO(false, time.Time{})
			s := verify.NewStep(oneSource{builtin.New(source{"shop": px}, nil)}, verify.WithSequentialEvery(250*time.Millisecond))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := s.Analyse(ctx, verify.Job{Verify: vs, Service: "shop", Canary: platform.Blue, Baseline: platform.Green, Started: start}, io)
			took, w := time.Since(start), px.Snapshot().Sub(before)
			var ve *verify.VerdictError
			switch {
			case tt.want == verify.Successful && err != nil:
				t.Fatalf("good canary stopped: %v\n%s", err, io.Text())
			case tt.want == verify.Failed && (!errors.As(err, &ve) || ve.Verdict != verify.Failed):
				t.Fatalf("got %v, want the canary failed\n%s", err, io.Text())
			}
			t.Logf("%s after %s and %d evaluations; blue served %d requests, %d failed (green %d, %d failed)", tt.want,
				took.Round(10*time.Millisecond), len(io.Measurements(t)), w.Blue.Requests(), w.Blue.ServerErrors(), w.Green.Requests(), w.Green.ServerErrors())
		})
	}
}

// serve runs a proxy on a loopback port and returns its URL.
func serve(t *testing.T, px *proxy.Proxy) string {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	go px.Serve(ctx, ln)
	t.Cleanup(func() { cancel(); px.Close() })
	return "http://" + ln.Addr().String()
}
