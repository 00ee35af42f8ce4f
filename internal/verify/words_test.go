package verify_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

func TestUnitFormat(t *testing.T) {
	tests := []struct {
		unit verify.Unit
		v    float64
		want string
	}{
		{verify.UnitRatio, 0.026, "2.6%"},
		{verify.UnitRatio, 0.001, "0.1%"},
		{verify.UnitRatio, 0, "0%"},
		{verify.UnitRatio, 1, "100%"},
		{verify.UnitPercent, 2.6, "2.6%"},
		{verify.UnitPercent, 99.95, "100%"},
		{verify.UnitPercent, 99.5, "99.5%"},
		{verify.UnitMillis, 120, "120 ms"},
		{verify.UnitMillis, 4.25, "4.25 ms"},
		{verify.UnitMillis, 1500, "1.5 s"},
		{verify.UnitSeconds, 2.5, "2.5 s"},
		{verify.UnitSeconds, 0.25, "250 ms"},
		{verify.UnitCount, 3, "3"},
		{verify.UnitCount, 12345, "12345"},
		{verify.UnitRPS, 8.04, "8.04 req/s"},
		{verify.UnitRPS, 200, "200 req/s"},
		{verify.UnitBytes, 512, "512 B"},
		{verify.UnitBytes, 3.2 * 1024 * 1024, "3.2 MiB"},
		{verify.UnitBytes, 1536, "1.5 KiB"},
		{verify.UnitNone, 0.5, "0.5"},
		{verify.UnitNone, 1234.4, "1234"},
		{verify.UnitNone, 0.00012, "0.00012"},
		{verify.UnitMillis, math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		if got := tt.unit.Format(tt.v); got != tt.want {
			t.Errorf("Unit(%q).Format(%g) = %q, want %q", tt.unit, tt.v, got, tt.want)
		}
	}
}

func TestDefaultUnit(t *testing.T) {
	tests := []struct {
		judge, query string
		want         verify.Unit
	}{
		{"sequential", "sum(rate(errors[1m]))", verify.UnitRatio},
		{"threshold", "error_rate", verify.UnitRatio},
		{"threshold", "slow_rate(250)", verify.UnitRatio},
		{"threshold", "p99_ms", verify.UnitMillis},
		{"threshold", "rps", verify.UnitRPS},
		{"threshold", "requests", verify.UnitCount},
		{"threshold", `sum(rate(http_requests_total{slot="{{slot}}"}[1m]))`, verify.UnitNone},
	}
	for _, tt := range tests {
		if got := verify.DefaultUnit(tt.judge, tt.query); got != tt.want {
			t.Errorf("DefaultUnit(%q, %q) = %q, want %q", tt.judge, tt.query, got, tt.want)
		}
	}
}

// TestVerdictWords runs one verify step per judge kind and checks the last
// measurement's plain words, its numbers in the record, and the step's error.
func TestVerdictWords(t *testing.T) {
	rate := func(blue, green float64) fixed {
		return fixed{"blue": func(verify.Query) verify.Result { return verify.Number(blue) },
			"green": func(verify.Query) verify.Result { return verify.Number(green) }}
	}
	one := func(m spec.MetricCheck) *spec.VerifyStep {
		m.Provider = "prom"
		return &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 1, Metrics: []spec.MetricCheck{m}}
	}
	tests := []struct {
		name       string
		p          verify.Provider
		vs         *spec.VerifyStep
		words      string // the last measurement's text
		canary     float64
		limit      float64 // 0: no one-number limit
		errorWords string  // a substring of the step's error; "" for success
	}{
		{"threshold, ratio, failed", rate(0.026, 0.001),
			one(spec.MetricCheck{Name: "errors", Title: "error rate", Unit: "ratio", Query: "q", SuccessCondition: "result < 0.01"}),
			"error rate 2.6% on blue — limit 1% — failed", 0.026, 0.01,
			"verify: error rate 2.6% on blue — limit 1% — failed (1 failed measurement(s) (limit 0); condition not (result < 0.01))"},
		{"threshold, ms, failure condition, passed", rate(120, 100),
			one(spec.MetricCheck{Name: "p99", Unit: "ms", Query: "q", FailureCondition: "result > 250"}),
			"p99 120 ms on blue — limit 250 ms — passed", 120, 250, ""},
		{"threshold, percent, lower bound", rate(99.2, 99.9),
			one(spec.MetricCheck{Name: "availability", Unit: "percent", Query: "q", SuccessCondition: "result >= 99.5"}),
			"availability 99.2% on blue — at least 99.5% — failed", 99.2, 99.5, "availability 99.2% on blue — at least 99.5% — failed"},
		{"threshold, rps, no unit given on a builtin query", rate(8, 80),
			one(spec.MetricCheck{Name: "throughput", Query: "rps", SuccessCondition: "result > 1"}),
			"throughput 8 req/s on blue — at least 1 req/s — passed", 8, 1, ""},
		{"threshold, bytes", rate(3.2*1024*1024, 1024*1024),
			one(spec.MetricCheck{Name: "heap", Unit: "bytes", Query: "q", SuccessCondition: "result < 4194304"}),
			"heap 3.2 MiB on blue — limit 4 MiB — passed", 3.2 * 1024 * 1024, 4194304, ""},
		{"threshold, s", rate(2.5, 1),
			one(spec.MetricCheck{Name: "startup", Unit: "s", Query: "q", SuccessCondition: "result < 2"}),
			"startup 2.5 s on blue — limit 2 s — failed", 2.5, 2, "startup 2.5 s on blue"},
		{"threshold, count", rate(3, 0),
			one(spec.MetricCheck{Name: "restarts", Unit: "count", Query: "q", SuccessCondition: "result <= 0"}),
			"restarts 3 on blue — limit 0 — failed", 3, 0, "restarts 3 on blue"},
		{"comparison with the baseline", rate(0.026, 0.001),
			one(spec.MetricCheck{Name: "error rate", Unit: "ratio", Query: "q", Baseline: true, FailureCondition: "result > baseline * 2"}),
			"error rate 2.6% on blue vs 0.1% on green — fails if result > baseline * 2 — failed", 0.026, 0,
			"error rate 2.6% on blue vs 0.1% on green — fails if result > baseline * 2 — failed"},
		{"inconclusive between two conditions", rate(0.02, 0.001),
			one(spec.MetricCheck{Name: "error rate", Unit: "ratio", Query: "q", SuccessCondition: "result < 0.01", FailureCondition: "result > 0.05"}),
			"error rate 2% on blue — passes below 1%, fails above 5% — inconclusive: neither result < 0.01 nor result > 0.05", 0.02, 0.05,
			"inconclusive: 1 inconclusive measurement(s) (limit 0); condition neither result < 0.01 nor result > 0.05; a person must decide"},
		{"no data", fixed{},
			one(spec.MetricCheck{Name: "error rate", Unit: "ratio", Query: "q", SuccessCondition: "result < 0.01"}),
			"error rate no data on blue — limit 1% — inconclusive: no data (noData: inconclusive)", math.NaN(), 0.01, "a person must decide"},
		{"Mann-Whitney", fixed{"blue": series(30, 100, 1, 1.3), "green": series(30, 100, 1, 1)},
			mw(func(_ *spec.VerifyStep, m *spec.MetricCheck) { m.Unit = "ms" }),
			"latency 149 ms on blue vs 115 ms on green — median +30.0% (allowed 10% increase), p=", 148.85, 0,
			"— failed (1 failed measurement(s) (limit 0))"},
		{"sequential", fixed{"blue": tally(3, 9), "green": tally(0, 167)},
			&spec.VerifyStep{Interval: spec.Duration(time.Second), Count: 3,
				Metrics: []spec.MetricCheck{{Name: "errors", Title: "error rate", Provider: "prom", Query: "error_rate", Judge: "sequential"}}},
			"error rate 33.3% on blue (6 of 18) vs 0% on green (0 of 334) — evidence 11844 of 100 needed — failed", 1.0 / 3, 0,
			"— failed (canary worse than baseline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io := newIO()
			err := verify.NewStep(oneSource{tt.p}, verify.WithClock(io.Now)).Analyse(context.Background(), testJob(tt.vs), io)
			ms := io.Measurements(t)
			if len(ms) == 0 {
				t.Fatalf("no measurement recorded: %v\n%s", err, io.Text())
			}
			last := ms[len(ms)-1]
			s := last.Summary
			if s == nil || !strings.HasPrefix(s.Text, tt.words) {
				t.Fatalf("words %+v, want them to start %q\n%s", s, tt.words, io.Text())
			}
			if got := verify.Describe(last); got != s.Text || !strings.Contains(io.Text(), got) {
				t.Fatalf("Describe gave %q, the console:\n%s", got, io.Text())
			}
			switch {
			case math.IsNaN(tt.canary) && s.Canary != nil:
				t.Fatalf("canary value %v recorded for no data", *s.Canary)
			case !math.IsNaN(tt.canary) && (s.Canary == nil || math.Abs(float64(*s.Canary)-tt.canary) > 1e-9):
				t.Fatalf("canary value %v recorded, want %g", s.Canary, tt.canary)
			}
			if tt.limit != 0 && (s.Limit == nil || float64(*s.Limit) != tt.limit) {
				t.Fatalf("limit %v recorded, want %g", s.Limit, tt.limit)
			}
			if tt.errorWords == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var ve *verify.VerdictError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.errorWords) {
				t.Fatalf("error %v, want it to contain %q\n%s", err, tt.errorWords, io.Text())
			}
		})
	}
}

func TestPhrase(t *testing.T) {
	tests := []struct {
		v           verify.Verdict
		reason, err string
		want        string
	}{
		{verify.Successful, "result < 0.01", "", "passed"},
		{verify.Failed, "not (result < 0.01)", "", "failed"},
		{verify.Inconclusive, "not enough evidence: 9 requests on the canary", "", "inconclusive: not enough evidence: 9 requests on the canary"},
		{verify.Inconclusive, "", "", "inconclusive"},
		{verify.Error, "", "datadog: 429 Too Many Requests", "error: datadog: 429 Too Many Requests"},
		{verify.Error, "", "", "error"},
	}
	for _, tt := range tests {
		if got := verify.Phrase(tt.v, tt.reason, tt.err); got != tt.want {
			t.Errorf("Phrase(%s, %q, %q) = %q, want %q", tt.v, tt.reason, tt.err, got, tt.want)
		}
	}
}

func TestScoreWords(t *testing.T) {
	tests := []struct {
		score  float64
		v      verify.Verdict
		reason string
		want   string
	}{
		{100, verify.Successful, "", "score 100 of 100 — pass 95, marginal 75 — passed"},
		{66.67, verify.Inconclusive, "the score is marginal", "score 66.7 of 100 — pass 95, marginal 75 — inconclusive: the score is marginal"},
		{0, verify.Failed, "critical metric errors is Failed", "score 0 of 100 — pass 95, marginal 75 — failed (critical metric errors is Failed)"},
	}
	for _, tt := range tests {
		if got := verify.ScoreText(tt.score, tt.v, verify.ScoreParams{}, tt.reason); got != tt.want {
			t.Errorf("ScoreText(%g, %s) = %q, want %q", tt.score, tt.v, got, tt.want)
		}
	}
	// A scored step's error is the score in words, then the metrics that missed.
	vs := &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 1, Score: &spec.ScoreSpec{Pass: num(90), Marginal: num(60)},
		Metrics: []spec.MetricCheck{threshold("a", false), threshold("b", true)}}
	err := runAnalysis(t, fixed{"blue": func(verify.Query) verify.Result { return verify.Number(0) }}, newIO(), vs)
	want := "verify: score 50 of 100 — pass 90, marginal 60 — failed; not passing: a 0 on blue — at least 1 — failed"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v, want it to start %q", err, want)
	}
}

// TestDescribeOldRecord writes a measurement recorded before units existed.
func TestDescribeOldRecord(t *testing.T) {
	v := verify.Float(0.5)
	ms := verify.Measurement{Metric: "error-rate", Canary: verify.Observation{Slot: "blue", Value: &v},
		Verdict: verify.Failed, Reason: "not (result < 0.01)"}
	if got, want := verify.Describe(ms), "error-rate 0.5 on blue — failed"; got != want {
		t.Fatalf("Describe = %q, want %q", got, want)
	}
}
