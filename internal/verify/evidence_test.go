package verify_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// tallies answers one window per query with the given events among trials.
func windows(ws ...[2]float64) []answer {
	out := make([]answer, len(ws))
	for i, w := range ws {
		out[i] = answer{r: verify.Result{Value: w[0] / max(w[1], 1), Tally: &verify.Tally{Events: w[0], Trials: w[1]}}}
	}
	return out
}

// lowTraffic is the case: over 22 one-second windows the canary serves 9
// requests (one every other second) of which the first 3 fail, the live slot 167
// of which none fails.
func lowTraffic() (canary, live []answer) {
	c, b := make([][2]float64, 22), make([][2]float64, 22)
	for i := range 22 {
		b[i][1] = 7
		if i < 13 {
			b[i][1] = 8 // 13×8 + 9×7 = 167
		}
		if i%2 == 0 && i/2 < 9 {
			c[i][1] = 1
			if i/2 < 3 {
				c[i][0] = 1
			}
		}
	}
	return windows(c...), windows(b...)
}

func sequentialStep(m spec.MetricCheck, d time.Duration) *spec.VerifyStep {
	m.Name, m.Provider, m.Query, m.Judge = "errors-vs-live", "prom", "error_rate", "sequential"
	return &spec.VerifyStep{Interval: spec.Duration(time.Second), Duration: spec.Duration(d), Metrics: []spec.MetricCheck{m}}
}

// TestLowTrafficCanaryIsNotPassed is the 8 requests/s case: 3 of 9 canary
// requests failed against 0 of 167 on the live slot. The sequential test alone
// (evidence 76 of 100) would have passed it; with the minimum evidence derived
// from the test's power the step fails "not enough evidence" (so the failure
// strategy rolls back) instead of passing or asking a person.
func TestLowTrafficCanaryIsNotPassed(t *testing.T) {
	canary, live := lowTraffic()
	p := &scripted{answers: map[string][]answer{"blue": canary, "green": live}}
	io := newIO()
	err := runAnalysis(t, p, io, sequentialStep(spec.MetricCheck{}, 22*time.Second))
	var ve *verify.VerdictError
	if !errors.As(err, &ve) || !ve.NotEnoughEvidence {
		t.Fatalf("step ended with %v, want not enough evidence\n%s", err, io.Text())
	}
	if errors.Is(err, engine.ErrNeedsDecision) {
		t.Fatalf("not enough evidence must fail the step, not pause it: %v", err)
	}
	if !strings.Contains(err.Error(), "canary 3/9") || !strings.Contains(err.Error(), "baseline 0/167") ||
		!strings.Contains(err.Error(), "not enough evidence: 9 requests on the canary (57 needed)") {
		t.Fatalf("error does not name the evidence: %v", err)
	}
	if note := verify.EvidenceNote(io.Measurements(t)); note != "errors-vs-live: not enough evidence: 9 requests on the canary (57 needed)" {
		t.Fatalf("evidence note %q", note)
	}

	// The same windows with the minimum lowered to one request pass: that was the bug.
	canary, live = lowTraffic()
	p = &scripted{answers: map[string][]answer{"blue": canary, "green": live}}
	if err := runAnalysis(t, p, newIO(), sequentialStep(spec.MetricCheck{MinRequests: 1}, 22*time.Second)); err != nil {
		t.Fatalf("with minRequests 1 the weak evidence passes, as before; got %v", err)
	}
}

// TestLowTrafficCanaryIsDetected: the same canary (30% failing, 8 requests/s to
// it, the live slot at 72 requests/s without errors) judged for as long as its
// step lasts is stopped by the sequential test itself within seconds.
func TestLowTrafficCanaryIsDetected(t *testing.T) {
	var c, b [][2]float64
	for i := range 60 {
		c = append(c, [2]float64{float64(2 + i%2), 8}) // 2.5 of 8 fail: 31%
		b = append(b, [2]float64{0, 72})
	}
	p := &scripted{answers: map[string][]answer{"blue": windows(c...), "green": windows(b...)}}
	io := newIO()
	err := runAnalysis(t, p, io, sequentialStep(spec.MetricCheck{}, time.Minute))
	var ve *verify.VerdictError
	if !errors.As(err, &ve) || ve.Verdict != verify.Failed || !strings.Contains(err.Error(), "canary worse than baseline") {
		t.Fatalf("step ended with %v, want Failed\n%s", err, io.Text())
	}
	if n := len(io.Measurements(t)); n > 3 {
		t.Fatalf("stopped after %d windows, want at most 3 (3 seconds at 8 requests/s)", n)
	}
}

// TestOneRequestIsNeverSuccessful: a window holding one request that did not fail
// is Inconclusive ("not enough evidence") for the threshold judge over counts
// and the sequential judge; a step of only such windows fails.
func TestOneRequestIsNeverSuccessful(t *testing.T) {
	for _, judge := range []string{"threshold", "sequential"} {
		t.Run(judge, func(t *testing.T) {
			m := spec.MetricCheck{Name: "errors", Provider: "prom", Query: "error_rate", Judge: judge}
			if judge == "threshold" {
				m.Judge, m.SuccessCondition = "", "result < 0.05"
			}
			vs := &spec.VerifyStep{Interval: spec.Duration(time.Second), Count: 3, Metrics: []spec.MetricCheck{m}}
			p := &scripted{answers: map[string][]answer{"blue": windows([2]float64{0, 1}), "green": windows([2]float64{0, 10})}}
			io := newIO()
			err := runAnalysis(t, p, io, vs)
			for _, ms := range io.Measurements(t) {
				if ms.Verdict == verify.Successful {
					t.Errorf("window %d with %s judged Successful", ms.Index, ms.Canary)
				}
			}
			var ve *verify.VerdictError
			if !errors.As(err, &ve) || !ve.NotEnoughEvidence || !strings.Contains(err.Error(), "not enough evidence") {
				t.Fatalf("step ended with %v, want not enough evidence\n%s", err, io.Text())
			}
		})
	}
}

// TestNeededTrials pins the derived minimum: 57 canary requests at alpha 1% for
// a baseline failing at most 2%, fewer for a worse baseline, more at a smaller alpha.
func TestNeededTrials(t *testing.T) {
	for _, c := range []struct{ alpha, base, want float64 }{
		{0.01, 0, 57}, {0.01, 0.02, 57}, {0.01, 0.1, 12}, {0.001, 0, 86},
	} {
		if got := verify.NeededTrials(c.alpha, c.base); got != c.want {
			t.Errorf("NeededTrials(%g, %g) = %g, want %g", c.alpha, c.base, got, c.want)
		}
	}
}
