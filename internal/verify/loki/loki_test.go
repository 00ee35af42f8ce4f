package loki_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/loki"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

var end = time.Unix(1700000600, 0)

func newProvider(t *testing.T, url string, settings map[string]string) *loki.Provider {
	t.Helper()
	s := map[string]string{"tenant": "team-a"}
	for k, v := range settings {
		s[k] = v
	}
	p, err := loki.New(context.Background(), spec.ProviderSpec{Name: "logs", Type: "loki", URL: url, Settings: s}, verify.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func logQuery(text string) verify.Query {
	return verify.Query{Text: text, Service: "shop", Slot: "blue", End: end, Window: 5 * time.Minute, Logs: true}
}

// seed stores 2,500 lines of blue in the window (every 10th an error) and a few
// of green, plus lines outside the window.
func seed(f *fakeLoki) {
	blue := map[string]string{"app": "shop", "slot": "blue"}
	green := map[string]string{"app": "shop", "slot": "green"}
	start := end.Add(-5 * time.Minute)
	for i := range 2500 {
		line := fmt.Sprintf("GET /item/%d 200 %dms", i, i%50)
		if i%10 == 0 {
			line = fmt.Sprintf("level=error msg=\"db timeout\" item=%d", i)
		}
		f.push(blue, start.Add(time.Duration(i)*100*time.Millisecond), line)
	}
	for i := range 3 {
		f.push(green, start.Add(time.Duration(i)*time.Second), "level=error msg=\"db timeout\" item=1")
	}
	f.push(blue, start.Add(-time.Second), "level=error before the window")
	f.push(blue, end, "level=error at the window's end (excluded)")
}

func TestConformance(t *testing.T) {
	f, srv := newFakeLoki(t, "team-a")
	seed(f)
	metric := verify.Query{Text: `sum(count_over_time({app="shop",slot="blue"} |= "level=error" [5m]))`, End: end, Window: 5 * time.Minute}
	verifytest.Run(t, verifytest.Fixture{
		Provider: newProvider(t, srv.URL, nil),
		Known: []verifytest.Case{
			{Name: "error lines", Query: logQuery(`{app="shop",slot="blue"} |= "level=error"`), Want: 250},
			{Name: "all lines, paged", Query: logQuery(`{app="shop",slot="blue"}`), Want: 2500},
			{Name: "regex filter", Query: logQuery(`{app="shop",slot="green"} |~ "db t.*out"`), Want: 3},
			{Name: "no match is zero, not no data", Query: logQuery(`{app="shop",slot="blue"} |= "panic"`), Want: 0},
			{Name: "metric query", Query: metric, Want: 250},
		},
		NoData:      verify.Query{Text: `sum(count_over_time({app="none"}[5m]))`, End: end, Window: 5 * time.Minute},
		Invalid:     logQuery(`app="shop"`),
		Unreachable: newProvider(t, "http://127.0.0.1:1", nil),
	})
}

func TestPagingAndLimits(t *testing.T) {
	f, srv := newFakeLoki(t, "team-a")
	seed(f)
	ctx := context.Background()
	r, err := newProvider(t, srv.URL, map[string]string{"pageSize": "300"}).Query(ctx, logQuery(`{app="shop",slot="blue"}`))
	if err != nil || r.Value != 2500 || len(r.Lines) != 2500 {
		t.Fatalf("paged count %v (%d lines), %v", r.Value, len(r.Lines), err)
	}
	calls := f.calls
	r, err = newProvider(t, srv.URL, map[string]string{"pageSize": "500", "maxLines": "1000"}).Query(ctx, logQuery(`{app="shop",slot="blue"}`))
	if err != nil || r.Value != 1000 || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "more than 1000") {
		t.Fatalf("capped count %v, warnings %q, %v", r.Value, r.Warnings, err)
	}
	if f.calls-calls != 2 {
		t.Fatalf("%d requests for a capped count, want 2", f.calls-calls)
	}
	if _, err := loki.New(context.Background(), spec.ProviderSpec{URL: srv.URL, Settings: map[string]string{"pageSize": "6000"}}, verify.Deps{}); err == nil {
		t.Fatalf("pageSize above Loki's limit accepted")
	}
	_, err = newProvider(t, srv.URL, map[string]string{"tenant": "other"}).Query(ctx, logQuery(`{app="shop"}`))
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong tenant: %v", err)
	}
	_, err = newProvider(t, srv.URL, nil).Query(ctx, logQuery(`sum(count_over_time({app="shop"}[1m]))`))
	if err == nil || errors.Is(err, verify.ErrNoData) {
		t.Fatalf("metric query in a log check: %v", err)
	}
}

func TestBadAnswers(t *testing.T) {
	verifytest.RunBadAnswers(t, func(url string) verify.Provider { return newProvider(t, url, nil) }, logQuery(`{app="shop"}`), time.Second)
}

// TestLogCheckInAnalysis runs a log check through the verify step: too many error
// lines fail it, and the console names the templates with counts and a sample.
func TestLogCheckInAnalysis(t *testing.T) {
	f, srv := newFakeLoki(t, "team-a")
	p := newProvider(t, srv.URL, nil)
	start := time.Now()
	for i := range 20 {
		f.push(map[string]string{"app": "shop", "slot": "blue"}, start.Add(-time.Duration(i)*time.Millisecond), fmt.Sprintf("level=error msg=\"db timeout\" item=%d", i))
	}
	io := verifytest.NewIO(true, start.Add(time.Second))
	vs := &spec.VerifyStep{Interval: spec.Duration(10 * time.Second), Logs: []spec.LogCheck{{Name: "errors", Provider: "logs", Query: `{app="{{service}}",slot="{{slot}}"} |= "level=error"`, MaxMatches: 5}}}
	s := verify.NewStep(source{p}, verify.WithClock(io.Now))
	err := s.Analyse(context.Background(), verify.Job{Verify: vs, Service: "shop", Canary: "blue", Baseline: "green", Started: start.Add(-10 * time.Second)}, io)
	var ve *verify.VerdictError
	if !errors.As(err, &ve) || ve.Verdict != verify.Failed {
		t.Fatalf("got %v\n%s", err, io.Text())
	}
	ms := io.Measurements(t)
	if len(ms) != 1 || len(ms[0].Templates) != 1 || ms[0].Templates[0].Count != 20 || !strings.Contains(io.Text(), `20× "level=error msg=\"db timeout\"`) {
		t.Fatalf("measurements %+v\n%s", ms, io.Text())
	}
}

type source struct{ p verify.Provider }

func (s source) Provider(context.Context, string, *spec.Environment, string) (verify.Provider, error) {
	return s.p, nil
}

// TestRateLimits checks that 429 and 503 answers are retried when the answer
// says, within the query's time.
func TestRateLimits(t *testing.T) {
	f, srv := newFakeLoki(t, "team-a")
	seed(f)
	verifytest.RunRateLimits(t, func(url string) verify.Provider { return newProvider(t, url, nil) }, srv.URL,
		logQuery(`{app="shop",slot="green"} |~ "db t.*out"`))
}
