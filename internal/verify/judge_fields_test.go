package verify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
)

// fixed answers every query of a slot with the result that fn gives for it.
type fixed map[string]func(q verify.Query) verify.Result

func (f fixed) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	fn := f[string(q.Slot)]
	if fn == nil {
		return verify.Result{}, verify.ErrNoData
	}
	return fn(q), nil
}

func (f fixed) Check(ctx context.Context) error { return nil }

// series is a sample of n points: base + step*i, scaled by factor.
func series(n int, base, step, factor float64) func(verify.Query) verify.Result {
	return func(q verify.Query) verify.Result {
		pts := make([]verify.Point, n)
		for i := range pts {
			pts[i] = verify.Point{At: q.End.Add(time.Duration(i-n) * time.Second), Value: factor * (base + step*float64(i))}
		}
		return verify.Result{Sample: pts}
	}
}

func tally(events, trials float64) func(verify.Query) verify.Result {
	return func(verify.Query) verify.Result {
		return verify.Result{Value: events / trials, Tally: &verify.Tally{Events: events, Trials: trials}}
	}
}

func lines(ls ...string) func(verify.Query) verify.Result {
	return func(verify.Query) verify.Result { return verify.Result{Value: float64(len(ls)), Lines: ls} }
}

// spike is an error rate of a burst of 0.5 errors per second for one second,
// averaged over the query's window.
func spike(q verify.Query) verify.Result { return verify.Number(0.5 / q.Window.Seconds()) }

func ratio(f float64) *spec.Ratio { r := spec.Ratio(f); return &r }
func num(f float64) *spec.Number  { n := spec.Number(f); return &n }

// mw is a one-metric verify step judged by mannwhitney, changed by edit.
func mw(edit func(vs *spec.VerifyStep, m *spec.MetricCheck)) *spec.VerifyStep {
	vs := &spec.VerifyStep{Interval: spec.Duration(time.Minute), Count: 1,
		Metrics: []spec.MetricCheck{{Name: "latency", Provider: "prom", Query: "q", Judge: "mannwhitney"}}}
	if edit != nil {
		edit(vs, &vs.Metrics[0])
	}
	return vs
}

// threshold is a metric that passes (pass) or fails on a provider answering 0.
func threshold(name string, pass bool) spec.MetricCheck {
	cond := "result < 1"
	if !pass {
		cond = "result > 1"
	}
	return spec.MetricCheck{Name: name, Provider: "prom", Query: "q", SuccessCondition: cond}
}

func TestJudgeFieldsChangeVerdicts(t *testing.T) {
	zero := fixed{"blue": func(verify.Query) verify.Result { return verify.Number(0) }}
	// 30 points a side; the canary's median is 30% above the baseline's: highly
	// significant, beyond the default 10% allowance.
	up30 := fixed{"blue": series(30, 100, 1, 1.3), "green": series(30, 100, 1, 1)}
	down30 := fixed{"blue": series(30, 100, 1, 0.7), "green": series(30, 100, 1, 1)}
	// A 5% shift over 30 points: p = 0.012, significant at 95% but not at 99%;
	// with 2% of effect allowed (set on the step), the confidence decides.
	up3 := fixed{"blue": series(30, 100, 1, 1.05), "green": series(30, 100, 1, 1)}
	small := func(edit func(vs *spec.VerifyStep, m *spec.MetricCheck)) *spec.VerifyStep {
		return mw(func(vs *spec.VerifyStep, m *spec.MetricCheck) {
			vs.EffectSize = ratio(0.02)
			if edit != nil {
				edit(vs, m)
			}
		})
	}
	strict := verify.CompareParams{Confidence: 0.999, EffectSize: 0.02}
	// A canary failing 1 of 20 requests a window against 2 of 180: the sequential
	// evidence passes 10 (alpha 10%) in the fifth window and is 23.5 after six,
	// short of 100 (alpha 1%).
	seqBad := fixed{"blue": tally(1, 20), "green": tally(2, 180)}
	errLine := "level=error msg=\"db timeout\" id=42"
	logsNew := fixed{"blue": lines(errLine, errLine, errLine, "ok"), "green": lines("ok", "ok")}
	logsOld := fixed{"blue": lines(errLine, errLine, errLine, "ok"), "green": lines(errLine, errLine, errLine, errLine, "ok", "ok", "ok", "ok")}
	logCheck := func(judge string, max int) *spec.VerifyStep {
		return &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 1,
			Logs: []spec.LogCheck{{Name: "errors", Provider: "prom", Query: "{app=shop}", Judge: judge, MaxMatches: max}}}
	}
	seq := func(alpha, stepAlpha float64) *spec.VerifyStep {
		return &spec.VerifyStep{Interval: spec.Duration(time.Second), Count: 6, Alpha: spec.Ratio(stepAlpha),
			Metrics: []spec.MetricCheck{{Name: "errors", Provider: "prom", Query: "error_rate", Judge: "sequential", Alpha: spec.Ratio(alpha)}}}
	}
	scoredStep := func(edit func(vs *spec.VerifyStep)) *spec.VerifyStep {
		vs := &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 1,
			Metrics: []spec.MetricCheck{threshold("a", true), threshold("b", false), threshold("c", true)}}
		edit(vs)
		return vs
	}
	tests := []struct {
		name   string
		p      verify.Provider
		vs     *spec.VerifyStep
		opts   []verify.Option
		want   verify.Verdict
		substr string
	}{
		{"mannwhitney defaults fail a 30% increase", up30, mw(nil), nil, verify.Failed, "allowed 10% increase"},
		{"effectSize 50% allows it", up30, mw(func(_ *spec.VerifyStep, m *spec.MetricCheck) { m.EffectSize = ratio(0.5) }), nil, verify.Successful, ""},
		{"a decrease passes by default", down30, mw(nil), nil, verify.Successful, ""},
		{"direction decrease fails it", down30, mw(func(_ *spec.VerifyStep, m *spec.MetricCheck) { m.Direction = "decrease" }), nil, verify.Failed, "decrease"},
		{"direction either fails it", down30, mw(func(_ *spec.VerifyStep, m *spec.MetricCheck) { m.Direction = "either" }), nil, verify.Failed, "either"},
		{"confidence 95% fails a small shift", up3, small(nil), nil, verify.Failed, "at 95% confidence"},
		{"confidence 99% passes it", up3, small(func(_ *spec.VerifyStep, m *spec.MetricCheck) { m.Confidence = 0.99 }), nil, verify.Successful, "at 99% confidence"},
		{"the server's confidence applies without the step's or metric's", up3, mw(nil),
			[]verify.Option{verify.WithCompare(strict)}, verify.Successful, "at 99.9% confidence"},
		{"the step's confidence beats the server's", up3, mw(func(vs *spec.VerifyStep, _ *spec.MetricCheck) { vs.Confidence = 0.95 }),
			[]verify.Option{verify.WithCompare(strict)}, verify.Failed, "at 95% confidence"},
		{"the metric's confidence beats the step's", up3, small(func(vs *spec.VerifyStep, m *spec.MetricCheck) { vs.Confidence, m.Confidence = 0.95, 0.999 }),
			nil, verify.Successful, "at 99.9% confidence"},
		{"the step's effectSize beats the server's", up30, mw(func(vs *spec.VerifyStep, _ *spec.MetricCheck) { vs.EffectSize = ratio(0.5) }),
			nil, verify.Successful, ""},
		{"sequential at the default alpha 1% passes a short analysis", seqBad, seq(0, 0), nil, verify.Successful, "of 100 needed"},
		{"alpha 10% stops it", seqBad, seq(0.1, 0), nil, verify.Failed, "of 10 needed"},
		{"the step's alpha applies", seqBad, seq(0, 0.1), nil, verify.Failed, "of 10 needed"},
		{"the metric's alpha beats the step's", seqBad, seq(0.01, 0.1), nil, verify.Successful, "of 100 needed"},
		{"the server's alpha applies", seqBad, seq(0, 0), []verify.Option{verify.WithSequential(verify.SequentialParams{Alpha: 0.1})}, verify.Failed, "of 10 needed"},
		{"a 10 s window sees the spike", fixed{"blue": spike}, &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 1,
			Metrics: []spec.MetricCheck{{Name: "e", Provider: "prom", Query: "q[{{window}}]", SuccessCondition: "result < 0.01"}}}, nil, verify.Failed, "(window 10s)"},
		{"a 1 m window averages it away", fixed{"blue": spike}, &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 1,
			Metrics: []spec.MetricCheck{{Name: "e", Provider: "prom", Query: "q[{{window}}]", SuccessCondition: "result < 0.01", Window: spec.Duration(time.Minute)}}}, nil, verify.Successful, "(window 60s)"},
		{"the step's window applies", fixed{"blue": spike}, &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 1, Window: spec.Duration(time.Minute),
			Metrics: []spec.MetricCheck{{Name: "e", Provider: "prom", Query: "q[{{window}}]", SuccessCondition: "result < 0.01"}}}, nil, verify.Successful, "(window 60s)"},
		{"the metric's window beats the step's", fixed{"blue": spike}, &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 1, Window: spec.Duration(time.Minute),
			Metrics: []spec.MetricCheck{{Name: "e", Provider: "prom", Query: "q[{{window}}]", SuccessCondition: "result < 0.01", Window: spec.Duration(5 * time.Second)}}}, nil, verify.Failed, "(window 5s)"},
		{"without a score one failing metric fails the step", zero, scoredStep(func(vs *spec.VerifyStep) {}), nil, verify.Failed, "b 0 on blue — at least 1 — failed"},
		{"a score of 66.7 is marginal", zero, scoredStep(func(vs *spec.VerifyStep) { vs.Score = &spec.ScoreSpec{Pass: num(70), Marginal: num(50)} }),
			nil, verify.Inconclusive, "score 66.7 of 100 — pass 70, marginal 50 — inconclusive"},
		{"a group shares one weight: 75 passes", zero, scoredStep(func(vs *spec.VerifyStep) {
			vs.Score = &spec.ScoreSpec{Pass: num(70), Marginal: num(50)}
			vs.Metrics[0].Group, vs.Metrics[1].Group = "g", "g"
		}), nil, verify.Successful, "score 75"},
		{"weights move the score: 3 on the failing metric gives 40", zero, scoredStep(func(vs *spec.VerifyStep) {
			vs.Score = &spec.ScoreSpec{Pass: num(70), Marginal: num(50)}
			vs.Metrics[1].Weight = 3
		}), nil, verify.Failed, "score 40"},
		{"a critical metric that fails fails the score", zero, scoredStep(func(vs *spec.VerifyStep) {
			vs.Score = &spec.ScoreSpec{Pass: num(50), Marginal: num(25)}
			vs.Metrics[1].Critical = true
		}), nil, verify.Failed, "critical metric b is Failed"},
		{"default thresholds 95 and 75", zero, scoredStep(func(vs *spec.VerifyStep) { vs.Score = &spec.ScoreSpec{} }), nil, verify.Failed, "pass 95, marginal 75"},
		{"log count: 3 error lines within maxMatches 5", logsNew, logCheck("", 5), nil, verify.Successful, ""},
		{"log compare: an error template new in the canary fails", logsNew, logCheck("compare", 0), nil, verify.Failed, "3× in canary, new"},
		{"log compare: the same errors as the baseline pass", logsOld, logCheck("compare", 0), nil, verify.Successful, "no error template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io := newIO()
			opts := append([]verify.Option{verify.WithClock(io.Now)}, tt.opts...)
			j := testJob(tt.vs)
			err := verify.NewStep(oneSource{tt.p}, opts...).Analyse(context.Background(), j, io)
			var ve *verify.VerdictError
			switch {
			case tt.want == verify.Successful && err != nil:
				t.Fatalf("unexpected error: %v\n%s", err, io.Text())
			case tt.want != verify.Successful && (!errors.As(err, &ve) || ve.Verdict != tt.want):
				t.Fatalf("error %v, want verdict %s\n%s", err, tt.want, io.Text())
			}
			if tt.substr != "" && !strings.Contains(fmt.Sprint(err)+io.Text(), tt.substr) {
				t.Fatalf("neither the error nor the console mentions %q: %v\n%s", tt.substr, err, io.Text())
			}
		})
	}
}

func TestScoreStopsOnceItCannotPass(t *testing.T) {
	vs := &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 6, Score: &spec.ScoreSpec{Pass: num(90), Marginal: num(60)},
		Metrics: []spec.MetricCheck{threshold("a", false), threshold("b", false), threshold("c", true)}}
	io := newIO()
	err := runAnalysis(t, fixed{"blue": func(verify.Query) verify.Result { return verify.Number(0) }}, io, vs)
	var ve *verify.VerdictError
	if !errors.As(err, &ve) || ve.Verdict != verify.Failed || ve.Metric != "" {
		t.Fatalf("got %v, want the score to fail", err)
	}
	// a and b fail on their first measurements: at best 33, below marginal, so c
	// is not measured six times.
	if n := len(io.Measurements(t)); n > 3 {
		t.Fatalf("%d measurements: the analysis went on after the score could no longer reach marginal\n%s", n, io.Text())
	}
}
