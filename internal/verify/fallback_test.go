package verify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// routerCounts answers the builtin router's error_rate with request counts per
// slot: 100 requests a window, canaryErrors of them failing on the canary, none
// on the live slot.
type routerCounts struct {
	canaryErrors float64
	calls        int
}

func (r *routerCounts) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	if q.Text != "error_rate" {
		return verify.Result{}, fmt.Errorf("router: unexpected query %q", q.Text)
	}
	r.calls++
	events := 0.0
	if q.Slot == platform.Blue {
		events = r.canaryErrors
	}
	return verify.Result{Value: events / 100, Tally: &verify.Tally{Events: events, Trials: 100}}, nil
}

func (r *routerCounts) Check(ctx context.Context) error { return nil }

// twoSources is an environment with a Prometheus that goes down and a builtin router.
type twoSources struct {
	prom   verify.Provider
	router verify.Provider
}

func (s twoSources) Provider(ctx context.Context, envName string, env *spec.Environment, name string) (verify.Provider, error) {
	switch name {
	case "prom":
		return s.prom, nil
	case "router":
		return s.router, nil
	}
	return nil, fmt.Errorf("no provider %q", name)
}

// TestContinueFallsBackToTheBuiltinRouter: with onProviderError: continue, a
// metric whose provider stays down is replaced for the rest of the step by the
// builtin router's error rate of the canary against the live slot, so a canary
// that fails its users is still caught while a good one passes.
func TestContinueFallsBackToTheBuiltinRouter(t *testing.T) {
	env := &spec.Environment{Spec: spec.EnvironmentSpec{Providers: []spec.ProviderSpec{
		{Name: "prom", Type: "prometheus"}, {Name: "router", Type: "builtin"}}}}
	for _, tc := range []struct {
		name         string
		canaryErrors float64
		wantFailed   bool
	}{
		{"good canary", 0, false},
		{"canary failing 30%", 30, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io := newIO()
			prom := newByQuery(io.Now, map[string]func(int) (verify.Result, error){"ok": good, "down": rateLimited})
			router := &routerCounts{canaryErrors: tc.canaryErrors}
			vs := twoMetrics(spec.ProviderErrorContinue)
			vs.Count = 6 // a minute, so the fallback has time to see enough requests
			j := testJob(vs)
			j.EnvironmentName, j.Environment = "prod", env
			err := verify.NewStep(twoSources{prom, router}, verify.WithClock(io.Now)).Analyse(context.Background(), j, io)
			text := io.Text()
			if !strings.Contains(text, "latency: the builtin router's error rate on blue against green") {
				t.Fatalf("console does not say the fallback stands in:\n%s", text)
			}
			if router.calls == 0 {
				t.Fatal("the builtin router was never asked")
			}
			var ve *verify.VerdictError
			switch {
			case tc.wantFailed && (!errors.As(err, &ve) || ve.Metric != "latency-builtin" || ve.Verdict != verify.Failed ||
				errors.Is(err, engine.ErrNeedsDecision)):
				t.Fatalf("error %v, want latency-builtin Failed for the failure strategy\n%s", err, text)
			case !tc.wantFailed && err != nil:
				t.Fatalf("a good canary with its provider down: %v\n%s", err, text)
			}
			for _, m := range io.Measurements(t) {
				if m.Metric == "latency-builtin" && m.At.Before(t0.Add(10*time.Second)) {
					t.Fatalf("fallback measured at %s, before latency was skipped", m.At)
				}
			}
		})
	}
}

// TestNoFallbackWithoutABuiltinRouter: continue without a builtin provider skips
// the metric and says why there is no fallback.
func TestNoFallbackWithoutABuiltinRouter(t *testing.T) {
	io := newIO()
	prom := newByQuery(io.Now, map[string]func(int) (verify.Result, error){"ok": good, "down": rateLimited})
	j := testJob(twoMetrics(spec.ProviderErrorContinue))
	j.EnvironmentName, j.Environment = "prod", &spec.Environment{}
	if err := verify.NewStep(twoSources{prom: prom}, verify.WithClock(io.Now)).Analyse(context.Background(), j, io); err != nil {
		t.Fatalf("analyse: %v", err)
	}
	if text := io.Text(); !strings.Contains(text, "no builtin router provider in environment prod to fall back on") {
		t.Fatalf("console:\n%s", text)
	}
}
