package verify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

// scripted answers queries from a list of results per slot, repeating the last.
type scripted struct {
	mu      sync.Mutex
	answers map[string][]answer
	queries []verify.Query
	secret  string
}

type answer struct {
	r   verify.Result
	err error
}

func (s *scripted) Query(ctx context.Context, q verify.Query) (verify.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, q)
	a := s.answers[string(q.Slot)]
	if len(a) == 0 {
		return verify.Result{}, verify.ErrNoData
	}
	next := a[0]
	if len(a) > 1 {
		s.answers[string(q.Slot)] = a[1:]
	}
	return next.r, next.err
}

func (s *scripted) Check(ctx context.Context) error { return nil }

func (s *scripted) Redact(text string) string {
	if s.secret == "" {
		return text
	}
	return strings.ReplaceAll(text, s.secret, "***")
}

type oneSource struct{ p verify.Provider }

func (o oneSource) Provider(ctx context.Context, envName string, env *spec.Environment, name string) (verify.Provider, error) {
	if name != "prom" {
		return nil, fmt.Errorf("no provider %q", name)
	}
	return o.p, nil
}

func nums(vs ...float64) []answer {
	out := make([]answer, len(vs))
	for i, v := range vs {
		out[i] = answer{r: verify.Number(v)}
	}
	return out
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func testJob(vs *spec.VerifyStep) verify.Job {
	return verify.Job{Verify: vs, Service: "shop", Canary: "blue", Baseline: "green", Variables: map[string]string{"team": "pay"}, Started: t0}
}

func newIO() *verifytest.IO { return verifytest.NewIO(true, t0) }

func runAnalysis(t *testing.T, p verify.Provider, io *verifytest.IO, vs *spec.VerifyStep) error {
	t.Helper()
	s := verify.NewStep(oneSource{p}, verify.WithClock(io.Now))
	return s.Analyse(context.Background(), testJob(vs), io)
}

func errorRate(m spec.MetricCheck) *spec.VerifyStep {
	if m.Name == "" {
		m.Name = "error-rate"
	}
	m.Provider = "prom"
	if m.Query == "" {
		m.Query = `sum(rate(errors{slot="{{slot}}",team="{{team}}"}[{{window}}]))`
	}
	if m.SuccessCondition == "" && m.Judge == "" {
		m.SuccessCondition = "result < 0.01"
	}
	return &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Count: 3, Metrics: []spec.MetricCheck{m}}
}

func TestVerifyVerdicts(t *testing.T) {
	tests := []struct {
		name      string
		metric    spec.MetricCheck
		blue      []answer
		want      verify.Verdict // verify.Successful means a nil error
		records   int
		errSubstr []string
	}{
		{"all pass", spec.MetricCheck{}, nums(0.001, 0.002, 0.003), verify.Successful, 3, nil},
		{"one failure stops at once", spec.MetricCheck{}, nums(0.001, 0.5, 0.001), verify.Failed, 2,
			[]string{"error-rate", "0.5", "result < 0.01"}},
		{"failure within the limit", spec.MetricCheck{FailureLimit: 1}, nums(0.5, 0.001, 0.001), verify.Successful, 3, nil},
		{"no data is inconclusive", spec.MetricCheck{}, nil, verify.Inconclusive, 1, []string{"a person must decide", "no data"}},
		{"no data can fail", spec.MetricCheck{NoData: "failed"}, nil, verify.Failed, 1, []string{"no data"}},
		{"no data within the inconclusive limit", spec.MetricCheck{InconclusiveLimit: 3}, nil, verify.Successful, 3, nil},
		{"errors past the limit", spec.MetricCheck{ConsecutiveErrorLimit: 2},
			[]answer{{err: errors.New("connection refused")}}, verify.Error, 3, []string{"3 consecutive errors", "connection refused"}},
		{"an error then recovery", spec.MetricCheck{},
			append([]answer{{err: errors.New("timeout")}}, nums(0.001, 0.001, 0.001)...), verify.Successful, 4, nil},
		{"named values", spec.MetricCheck{SuccessCondition: "result.p99 < 250"},
			[]answer{{r: verify.Result{Values: map[string]float64{"p99": 300}}}}, verify.Failed, 1, []string{"result.p99 < 250", "300"}},
		{"both conditions, in between", spec.MetricCheck{SuccessCondition: "result < 0.01", FailureCondition: "result > 0.05"},
			nums(0.02), verify.Inconclusive, 1, []string{"a person must decide"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &scripted{answers: map[string][]answer{"blue": tt.blue}}
			io := newIO()
			err := runAnalysis(t, p, io, errorRate(tt.metric))
			var ve *verify.VerdictError
			switch {
			case tt.want == verify.Successful && err != nil:
				t.Fatalf("unexpected error: %v\n%s", err, io.Text())
			case tt.want != verify.Successful && (!errors.As(err, &ve) || ve.Verdict != tt.want):
				t.Fatalf("error %v, want verdict %s\n%s", err, tt.want, io.Text())
			}
			if got := len(io.Measurements(t)); got != tt.records {
				t.Fatalf("%d measurements recorded, want %d\n%s", got, tt.records, io.Text())
			}
			for _, s := range tt.errSubstr {
				if !strings.Contains(err.Error(), s) {
					t.Fatalf("error %q does not mention %q", err, s)
				}
			}
			if tt.want == verify.Inconclusive && !errors.Is(err, verify.ErrInconclusive) {
				t.Fatalf("inconclusive error does not match verify.ErrInconclusive")
			}
		})
	}
}

func TestVerifySchedule(t *testing.T) {
	p := &scripted{answers: map[string][]answer{"blue": append([]answer{{err: errors.New("boom")}}, nums(0.001)...)}}
	io := newIO()
	vs := errorRate(spec.MetricCheck{})
	vs.InitialDelay = spec.Duration(time.Minute)
	if err := runAnalysis(t, p, io, vs); err != nil {
		t.Fatal(err)
	}
	ms := io.Measurements(t)
	want := []time.Time{
		t0.Add(70 * time.Second), // delay + interval: the window lies after the delay
		t0.Add(72 * time.Second), // the error is retried sooner than the interval
		t0.Add(82 * time.Second), // windows follow on from the retried one, never overlapping
		t0.Add(92 * time.Second),
	}
	if len(ms) != len(want) {
		t.Fatalf("%d measurements, want %d", len(ms), len(want))
	}
	for i, m := range ms {
		if !m.At.Equal(want[i]) {
			t.Errorf("measurement %d at %s, want %s", i, m.At.Sub(t0), want[i].Sub(t0))
		}
	}
	q := ms[1].Canary.Query
	if q != `sum(rate(errors{slot="blue",team="pay"}[10s]))` || ms[1].Window != "10s" {
		t.Fatalf("rendered query %q window %q", q, ms[1].Window)
	}
}

func TestVerifyResumesFromRecords(t *testing.T) {
	p := &scripted{answers: map[string][]answer{"blue": nums(0.001)}}
	vs := errorRate(spec.MetricCheck{})
	vs.Count = 6
	io := newIO()
	io.FailAt = 2
	if err := runAnalysis(t, p, io, vs); !errors.Is(err, verifytest.ErrCrash) {
		t.Fatalf("first run: %v", err)
	}
	io.FailAt = 0
	if err := runAnalysis(t, p, io, vs); err != nil {
		t.Fatal(err)
	}
	ms := io.Measurements(t)
	if len(ms) != 6 {
		t.Fatalf("%d measurements after resume, want 6", len(ms))
	}
	for i, m := range ms {
		if m.Index != i {
			t.Fatalf("measurement %d has index %d: repeated or skipped", i, m.Index)
		}
	}
	if !strings.Contains(io.Text(), "resuming verification after 2") {
		t.Fatalf("console does not say it resumed:\n%s", io.Text())
	}
}

func TestVerifyStopsWhenInterrupted(t *testing.T) {
	stop := errors.New("rolled back by alice")
	io := newIO()
	io.SleepErr = stop
	err := runAnalysis(t, &scripted{}, io, errorRate(spec.MetricCheck{}))
	if err != stop {
		t.Fatalf("got %v, want the interruption unchanged", err)
	}
}

func TestVerifyRejectsBadSetup(t *testing.T) {
	tests := []struct {
		name string
		m    spec.MetricCheck
		want string
	}{
		{"unknown placeholder", spec.MetricCheck{Query: "x{{nope}}"}, "{{nope}}"},
		{"bad condition", spec.MetricCheck{SuccessCondition: "result <"}, "successCondition"},
		{"unknown judge", spec.MetricCheck{Judge: "vibes"}, "unknown judge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io := newIO()
			err := runAnalysis(t, &scripted{}, io, errorRate(tt.m))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
			if len(io.Measurements(t)) != 0 {
				t.Fatalf("measured before the setup was checked")
			}
		})
	}
	vs := errorRate(spec.MetricCheck{})
	vs.Metrics[0].Provider = "missing"
	if err := runAnalysis(t, &scripted{}, newIO(), vs); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("unknown provider: %v", err)
	}
}

func TestVerifyNeverShowsSecrets(t *testing.T) {
	const secret = "s3cr3t-token-value"
	p := &scripted{secret: secret, answers: map[string][]answer{"blue": {{err: fmt.Errorf("GET http://u:%s@prom/api: 401", secret)}}}}
	io := newIO()
	vs := errorRate(spec.MetricCheck{ConsecutiveErrorLimit: 1})
	err := runAnalysis(t, p, io, vs)
	for what, s := range map[string]string{"error": fmt.Sprint(err), "console": io.Text(), "records": fmt.Sprint(io.Measurements(t))} {
		if strings.Contains(s, secret) {
			t.Fatalf("%s shows the secret: %s", what, s)
		}
	}
}

func tallies(events, trials float64, n int) []answer {
	out := make([]answer, n)
	for i := range out {
		out[i] = answer{r: verify.Result{Value: events / trials, Tally: &verify.Tally{Events: events, Trials: trials}}}
	}
	return out
}

func TestVerifySequential(t *testing.T) {
	tests := []struct {
		name        string
		blue, green []answer
		want        verify.Verdict
		maxRecords  int
	}{
		{"bad canary stops in seconds", tallies(2, 20, 1000), tallies(2, 180, 1000), verify.Failed, 20},
		{"good canary runs to the end", tallies(0, 20, 1000), tallies(2, 180, 1000), verify.Successful, 30},
		{"no canary traffic is inconclusive", tallies(0, 0, 1000), tallies(2, 180, 1000), verify.Inconclusive, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &scripted{answers: map[string][]answer{"blue": tt.blue, "green": tt.green}}
			io := newIO()
			vs := errorRate(spec.MetricCheck{Judge: "sequential", Query: "error_rate"})
			err := runAnalysis(t, p, io, vs)
			var ve *verify.VerdictError
			if tt.want == verify.Successful && err != nil || tt.want != verify.Successful && (!errors.As(err, &ve) || ve.Verdict != tt.want) {
				t.Fatalf("got %v, want %s\n%s", err, tt.want, io.Text())
			}
			if n := len(io.Measurements(t)); n > tt.maxRecords {
				t.Fatalf("%d windows, want at most %d", n, tt.maxRecords)
			}
			t.Logf("%d one-second windows; %v", len(io.Measurements(t)), err)
		})
	}
}

func TestVerifyStepTimeout(t *testing.T) {
	p := &scripted{answers: map[string][]answer{"blue": nums(0.001)}}
	io := newIO()
	j := testJob(errorRate(spec.MetricCheck{}))
	j.Deadline = t0.Add(25 * time.Second) // three measurements need 30 s
	err := verify.NewStep(oneSource{p}, verify.WithClock(io.Now)).Analyse(context.Background(), j, io)
	if err == nil || !strings.Contains(err.Error(), "timeout") || len(io.Measurements(t)) != 2 {
		t.Fatalf("got %v after %d measurements", err, len(io.Measurements(t)))
	}
}
