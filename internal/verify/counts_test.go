package verify_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

// counters answers a query pair as a counter source would: "errors" queries
// count failed requests, "requests" queries all; each slot serves a fixed rate
// per second of the virtual clock with a fixed share of failures. With
// cumulative set the answers are running totals since t0, else the window's.
type counters struct {
	mu         sync.Mutex
	now        func() (secs float64)
	rate       map[string]float64 // requests per second by slot
	fail       map[string]float64 // failed share by slot
	cumulative bool
	noErrors   bool    // the errors series does not exist: no data
	resetAt    float64 // from this many seconds on, the canary's counters restart from 0
	texts      []string
}

func (c *counters) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.texts = append(c.texts, q.Text)
	secs := q.Window.Seconds()
	if c.cumulative {
		secs = c.now()
		if c.resetAt > 0 && secs >= c.resetAt && q.Slot == "blue" {
			secs -= c.resetAt
		}
	}
	n := c.rate[string(q.Slot)] * secs
	if strings.HasPrefix(q.Text, "errors") {
		if c.noErrors {
			return verify.Result{}, verify.ErrNoData
		}
		n *= c.fail[string(q.Slot)]
	}
	return verify.Number(n), nil
}

func (c *counters) Check(context.Context) error { return nil }

func countsStep(counts string) *spec.VerifyStep {
	return errorRate(spec.MetricCheck{Judge: "sequential", Counts: counts,
		Query: `errors{slot="{{slot}}"}[{{window}}]`, Total: `requests{slot="{{slot}}"}[{{window}}]`})
}

func TestVerifySequentialOnAQueryPair(t *testing.T) {
	tests := []struct {
		name       string
		counts     string
		blueFail   float64
		noErrors   bool
		resetAt    float64
		want       verify.Verdict
		wantReason string
	}{
		{"windowed counts, bad canary", "window", 0.2, false, 0, verify.Failed, "canary worse than baseline"},
		{"cumulative counts, bad canary", "cumulative", 0.2, false, 0, verify.Failed, "canary worse than baseline"},
		{"cumulative counts, good canary", "cumulative", 0.002, false, 0, verify.Successful, ""},
		{"no error series is zero errors", "cumulative", 0, true, 0, verify.Successful, ""},
		{"a counter reset is not counted", "cumulative", 0.002, false, 5, verify.Successful, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io := newIO()
			p := &counters{now: func() float64 { return io.Now().Sub(t0).Seconds() }, cumulative: tt.counts == "cumulative",
				rate: map[string]float64{"blue": 20, "green": 180}, fail: map[string]float64{"blue": tt.blueFail, "green": 0.002},
				noErrors: tt.noErrors, resetAt: tt.resetAt}
			err := runAnalysis(t, p, io, countsStep(tt.counts))
			var ve *verify.VerdictError
			switch {
			case tt.want == verify.Successful && err != nil:
				t.Fatalf("got %v, want success\n%s", err, io.Text())
			case tt.want != verify.Successful && (!errors.As(err, &ve) || ve.Verdict != tt.want || !strings.Contains(err.Error(), tt.wantReason)):
				t.Fatalf("got %v, want %s (%s)\n%s", err, tt.want, tt.wantReason, io.Text())
			}
			ms := io.Measurements(t)
			if tt.want == verify.Failed && len(ms) > 10 {
				t.Fatalf("a 20%% error canary took %d windows", len(ms))
			}
			if tt.counts != "cumulative" {
				return
			}
			if ms[0].Counted || ms[0].Canary.Pending != "first reading" || !strings.Contains(ms[0].Reason, "counting starts with the next window") {
				t.Fatalf("first window %+v, want a first reading that is not counted", ms[0])
			}
			var canary, baseline verify.Tally
			resets := 0
			for _, m := range ms[1:] {
				if m.Canary.Pending == "counts went down (a counter reset)" {
					resets++
					continue
				}
				canary.Trials += m.Canary.Tally.Trials
				canary.Events += m.Canary.Tally.Events
				baseline.Trials += m.Baseline.Tally.Trials
			}
			if (tt.resetAt > 0) != (resets == 1) {
				t.Fatalf("%d reset windows", resets)
			}
			// Every counted window counts one second of traffic once.
			counted := len(ms) - 1 - resets
			if wantB := 180 * float64(counted); baseline.Trials < wantB-0.5 || baseline.Trials > wantB+0.5 {
				t.Fatalf("baseline counted %g requests over %d windows, want %g", baseline.Trials, counted, wantB)
			}
			if tt.noErrors && canary.Events != 0 {
				t.Fatalf("canary events %g without an error series", canary.Events)
			}
		})
	}
}

// TestVerifyCumulativeCountsResume: a restart in the middle keeps the last
// readings from the records, so the window after it is counted, not a new first.
func TestVerifyCumulativeCountsResume(t *testing.T) {
	io := newIO()
	p := &counters{now: func() float64 { return io.Now().Sub(t0).Seconds() }, cumulative: true,
		rate: map[string]float64{"blue": 20, "green": 180}, fail: map[string]float64{"blue": 0.002, "green": 0.002}}
	io.FailAt = 4
	if err := runAnalysis(t, p, io, countsStep("cumulative")); !errors.Is(err, verifytest.ErrCrash) {
		t.Fatalf("first run: %v", err)
	}
	io.FailAt = 0
	if err := runAnalysis(t, p, io, countsStep("cumulative")); err != nil {
		t.Fatal(err)
	}
	for i, m := range io.Measurements(t) {
		if i > 0 && m.Canary.Pending != "" {
			t.Fatalf("measurement %d after the resume is %q: readings lost", i, m.Canary.Pending)
		}
	}
}
