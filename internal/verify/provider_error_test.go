package verify_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// byQuery answers each query text with its own function of the call count.
type byQuery struct {
	mu     sync.Mutex
	calls  map[string]int
	at     map[string][]time.Time
	now    func() time.Time
	answer map[string]func(n int) (verify.Result, error)
}

func (b *byQuery) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls[q.Text]++
	b.at[q.Text] = append(b.at[q.Text], b.now())
	return b.answer[q.Text](b.calls[q.Text])
}

func (b *byQuery) Check(ctx context.Context) error { return nil }

func newByQuery(now func() time.Time, answers map[string]func(n int) (verify.Result, error)) *byQuery {
	return &byQuery{calls: map[string]int{}, at: map[string][]time.Time{}, now: now, answer: answers}
}

func good(int) (verify.Result, error) { return verify.Number(0.001), nil }

func rateLimited(int) (verify.Result, error) {
	return verify.Result{}, &verify.ProviderError{Err: errors.New("datadog: rate limited (HTTP 429) for longer than the query may take")}
}

// twoMetrics is a verify step with a metric whose provider answers and one
// whose provider does not.
func twoMetrics(action string) *spec.VerifyStep {
	return &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 3, OnProviderError: action, Metrics: []spec.MetricCheck{
		{Name: "errors", Provider: "prom", Query: "ok", SuccessCondition: "result < 0.01"},
		{Name: "latency", Provider: "prom", Query: "down", SuccessCondition: "result < 0.5"},
	}}
}

// TestOnProviderError runs a step whose second metric's provider stays
// unavailable: the metric's verdict is Error and the step's onProviderError
// decides: pause (the default) asks a person, rollback asks the engine to roll
// back, continue skips the metric and says so on the console and in the record.
func TestOnProviderError(t *testing.T) {
	tests := []struct {
		action              string
		wantErr             bool
		needsDecision, undo bool
	}{
		{"", true, true, false},
		{spec.ProviderErrorPause, true, true, false},
		{spec.ProviderErrorRollback, true, false, true},
		{spec.ProviderErrorContinue, false, false, false},
	}
	for _, tt := range tests {
		t.Run("onProviderError "+tt.action, func(t *testing.T) {
			io := newIO()
			p := newByQuery(io.Now, map[string]func(int) (verify.Result, error){"ok": good, "down": rateLimited})
			err := runAnalysis(t, p, io, twoMetrics(tt.action))
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want one: %v\n%s", err, tt.wantErr, io.Text())
			}
			if errors.Is(err, engine.ErrNeedsDecision) != tt.needsDecision || errors.Is(err, engine.ErrRollBack) != tt.undo {
				t.Fatalf("error %v: needs a decision %v (want %v), rolls back %v (want %v)", err,
					errors.Is(err, engine.ErrNeedsDecision), tt.needsDecision, errors.Is(err, engine.ErrRollBack), tt.undo)
			}
			var ve *verify.VerdictError
			if tt.wantErr && (!errors.As(err, &ve) || ve.Verdict != verify.Error || !ve.ProviderDown || ve.Metric != "latency" ||
				!strings.Contains(err.Error(), "provider stayed unavailable")) {
				t.Fatalf("error %v, want latency's Error for its provider", err)
			}
			ms := io.Measurements(t)
			down := 0
			for _, m := range ms {
				if m.Metric == "latency" {
					down++
					if m.Verdict != verify.Error || !m.ProviderError {
						t.Errorf("measurement %+v, want a provider Error", m)
					}
				}
			}
			if down != 5 { // the default consecutiveErrorLimit 4, then one more
				t.Errorf("%d measurements of latency, want 5", down)
			}
			if tt.action != spec.ProviderErrorContinue {
				return
			}
			skipped, _ := io.Records(context.Background(), "skipped")
			if len(skipped) != 1 || !strings.Contains(string(skipped[0]), `"metric":"latency"`) {
				t.Errorf("skipped records %s", skipped)
			}
			if text := io.Text(); !strings.Contains(text, "latency skipped: its provider prom stayed unavailable") ||
				!strings.Contains(text, "1 check(s) passed, 1 skipped") {
				t.Errorf("console does not say latency was skipped:\n%s", text)
			}
			if n := p.calls["ok"]; n != 3 {
				t.Errorf("errors measured %d times, want its 3 after latency was skipped", n)
			}
		})
	}
}

// TestFailedValueIsNotAProviderError checks that a bad canary still fails: a
// Failed metric, or an Error that is not the provider's (a bad query), is no
// reason to pause or continue.
func TestFailedValueIsNotAProviderError(t *testing.T) {
	for name, answer := range map[string]func(int) (verify.Result, error){
		"failed value": func(int) (verify.Result, error) { return verify.Number(0.9), nil },
		"bad query": func(int) (verify.Result, error) {
			return verify.Result{}, errors.New("prometheus: HTTP 400 bad_data: parse error")
		},
	} {
		t.Run(name, func(t *testing.T) {
			io := newIO()
			p := newByQuery(io.Now, map[string]func(int) (verify.Result, error){"ok": good, "down": answer})
			err := runAnalysis(t, p, io, twoMetrics(spec.ProviderErrorContinue))
			var ve *verify.VerdictError
			if !errors.As(err, &ve) || ve.ProviderDown || errors.Is(err, engine.ErrNeedsDecision) || errors.Is(err, engine.ErrRollBack) {
				t.Fatalf("error %v, want the metric's own verdict for the failure strategy\n%s", err, io.Text())
			}
		})
	}
}

// TestRetryWhenTheProviderSays checks that a measurement refused with a time to
// come back is retried then (not after the 2 s default), never later than an
// interval after, and that a provider that recovers leaves no mark on the verdict.
func TestRetryWhenTheProviderSays(t *testing.T) {
	io := newIO()
	var p *byQuery
	p = newByQuery(io.Now, map[string]func(int) (verify.Result, error){
		"ok": good,
		"down": func(n int) (verify.Result, error) {
			switch n {
			case 1:
				return verify.Result{}, &verify.ProviderError{Err: errors.New("429"), RetryAfter: io.Now().Add(7 * time.Second)}
			case 2:
				return verify.Result{}, &verify.ProviderError{Err: errors.New("429"), RetryAfter: io.Now().Add(time.Hour)}
			}
			return good(n)
		},
	})
	if err := runAnalysis(t, p, io, twoMetrics("")); err != nil {
		t.Fatalf("%v\n%s", err, io.Text())
	}
	at := p.at["down"]
	if len(at) < 3 {
		t.Fatalf("latency measured at %v", at)
	}
	if d := at[1].Sub(at[0]); d != 7*time.Second {
		t.Errorf("retried %s after the first 429, want the 7 s it asked for", d)
	}
	if d := at[2].Sub(at[1]); d != 10*time.Second {
		t.Errorf("retried %s after a 429 asking for an hour, want one interval (10 s)", d)
	}
	ms := io.Measurements(t)
	if ms[0].RetryAfter == nil && ms[1].RetryAfter == nil {
		t.Errorf("no measurement records when the provider asked to come back: %+v", ms[:2])
	}
}

// TestDurationBoundsTheStep checks that a verify step with a duration shorter
// than the default interval measures within its duration, not after the
// default interval.
func TestDurationBoundsTheStep(t *testing.T) {
	for _, d := range []time.Duration{10 * time.Second, 15 * time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			io := newIO()
			p := newByQuery(io.Now, map[string]func(int) (verify.Result, error){"ok": good})
			vs := &spec.VerifyStep{Duration: spec.Duration(d), Metrics: []spec.MetricCheck{
				{Name: "errors", Provider: "prom", Query: "ok", SuccessCondition: "result < 0.01"}}}
			s := verify.NewStep(oneSource{p}, verify.WithClock(io.Now), verify.WithInterval(30*time.Second))
			if err := s.Analyse(context.Background(), testJob(vs), io); err != nil {
				t.Fatal(err)
			}
			if took := io.Now().Sub(t0); took != d {
				t.Fatalf("the step took %s, want its duration %s\n%s", took, d, io.Text())
			}
			if at := p.at["ok"]; len(at) != 1 || at[0].Sub(t0) != d {
				t.Fatalf("measured at %v, want once at the end of the duration", at)
			}
		})
	}
}
