package sumologic_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/sumologic"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

var end = time.Unix(1700000600, 0)

func newProvider(t *testing.T, url string, settings map[string]string) *sumologic.Provider {
	t.Helper()
	// Polls and requests faster than Sumo Logic allows keep the tests short;
	// TestPaceKeepsToTheDocumentedLimits runs at the default pace.
	s := map[string]string{"pollInterval": "10ms", "requestsPerSecond": "1000"}
	for k, v := range settings {
		s[k] = v
	}
	creds := map[string]string{"SUMO_ID": "suABCDEF", "SUMO_KEY": "sumo-key-0123456789"}
	p, err := sumologic.New(context.Background(), spec.ProviderSpec{Name: "sumo", Type: "sumologic", URL: url, Settings: s,
		Credentials: map[string]spec.SecretRef{"accessId": {Env: "SUMO_ID"}, "accessKey": {Env: "SUMO_KEY"}}},
		verify.Deps{Getenv: func(k string) string { return creds[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func seed(f *fakeSumo) {
	start := end.Add(-5 * time.Minute)
	for i := range 1500 {
		raw := fmt.Sprintf("GET /item/%d 200 %dms", i, i%40)
		if i%10 == 0 {
			raw = fmt.Sprintf("ERROR db timeout item=%d", i)
		}
		f.add("shop/blue", start.Add(time.Duration(i)*100*time.Millisecond), raw)
	}
	f.add("shop/green", start.Add(time.Second), "ERROR db timeout item=1")
	f.add("shop/blue", end.Add(time.Second), "ERROR after the window")
}

func q(text string, logs bool) verify.Query {
	return verify.Query{Text: text, End: end, Window: 5 * time.Minute, Logs: logs}
}

func TestConformance(t *testing.T) {
	f, srv := newFakeSumo(t)
	seed(f)
	verifytest.Run(t, verifytest.Fixture{
		Provider: newProvider(t, srv.URL, nil),
		Known: []verifytest.Case{
			{Name: "aggregate count", Query: q("_sourceCategory=shop/blue error | count", false), Want: 150},
			{Name: "log lines", Query: q("_sourceCategory=shop/blue error", true), Want: 150},
			{Name: "log lines paged", Query: q("_sourceCategory=shop/blue", true), Want: 1500},
			{Name: "no matching lines is zero", Query: q("_sourceCategory=shop/blue panic", true), Want: 0},
		},
		NoData:      q("_sourceCategory=shop/blue panic | count", false),
		Invalid:     q("_sourceCategory=shop/blue | bad", false),
		Unreachable: newProvider(t, "http://127.0.0.1:1", nil),
	})
	if n := f.open(); n != 0 {
		t.Fatalf("%d search jobs left undeleted", n)
	}
}

func TestJobLifecycle(t *testing.T) {
	ctx := context.Background()
	t.Run("429 is retried", func(t *testing.T) {
		f, srv := newFakeSumo(t)
		seed(f)
		f.limitOnce = true
		r, err := newProvider(t, srv.URL, nil).Query(ctx, q("_sourceCategory=shop/green error | count", false))
		if err != nil || r.Value != 1 || f.limited != 1 {
			t.Fatalf("%+v %v (limited %d)", r, err, f.limited)
		}
	})
	t.Run("a job not polled in time is cancelled", func(t *testing.T) {
		f, srv := newFakeSumo(t)
		seed(f)
		f.keepAlive = 20 * time.Millisecond
		_, err := newProvider(t, srv.URL, map[string]string{"pollInterval": "60ms"}).Query(ctx, q("error | count", false))
		if err == nil || !strings.Contains(err.Error(), "cancelled") || errors.Is(err, verify.ErrNoData) {
			t.Fatalf("got %v, want a cancelled job", err)
		}
	})
	t.Run("lines and templates", func(t *testing.T) {
		f, srv := newFakeSumo(t)
		seed(f)
		r, err := newProvider(t, srv.URL, map[string]string{"pageSize": "100", "maxLines": "250"}).Query(ctx, q("_sourceCategory=shop/blue error", true))
		if err != nil || r.Value != 150 || len(r.Lines) != 150 || r.Lines[0] != "ERROR db timeout item=0" {
			t.Fatalf("%v lines %d, %v", r.Value, len(r.Lines), err)
		}
		r, err = newProvider(t, srv.URL, map[string]string{"pageSize": "100", "maxLines": "250"}).Query(ctx, q("_sourceCategory=shop/blue", true))
		if err != nil || r.Value != 1500 || len(r.Lines) != 250 || len(r.Warnings) != 1 {
			t.Fatalf("capped: %v lines %d warnings %q, %v", r.Value, len(r.Lines), r.Warnings, err)
		}
	})
	t.Run("bad credentials", func(t *testing.T) {
		_, srv := newFakeSumo(t)
		p, err := sumologic.New(context.Background(), spec.ProviderSpec{URL: srv.URL, Credentials: map[string]spec.SecretRef{"accessId": {Env: "I"}, "accessKey": {Env: "K"}}},
			verify.Deps{Getenv: func(k string) string { return "wrong-" + k + "-secret" }})
		if err != nil {
			t.Fatal(err)
		}
		err = p.Check(ctx)
		if err == nil || !strings.Contains(err.Error(), "not authorised") || strings.Contains(err.Error(), "wrong-K-secret") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestPendingWarningsOfEveryPoll checks that the warnings of every status poll
// reach the result, each once: Sumo Logic's pendingWarnings hold only what
// accumulated since the previous status call.
func TestPendingWarningsOfEveryPoll(t *testing.T) {
	f, srv := newFakeSumo(t)
	seed(f)
	f.warnings = [][]string{{"field x not found"}, {"partial results: a partition timed out"}, {"field x not found"}}
	r, err := newProvider(t, srv.URL, nil).Query(context.Background(), q("_sourceCategory=shop/green error | count", false))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"field x not found", "partial results: a partition timed out"}
	if !slices.Equal(r.Warnings, want) {
		t.Fatalf("warnings %q, want %q", r.Warnings, want)
	}
}

// TestPaceKeepsToTheDocumentedLimits runs four queries at once on one provider
// at its default pace against a Sumo Logic that enforces its documented four
// requests a second: no request is refused, and every query answers.
func TestPaceKeepsToTheDocumentedLimits(t *testing.T) {
	f, srv := newFakeSumo(t)
	seed(f)
	f.perSecond = 4
	p := newProvider(t, srv.URL, map[string]string{"requestsPerSecond": "4", "pollInterval": "100ms"}) // the default pace
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r, err := p.Query(ctx, q("_sourceCategory=shop/green error | count", false))
			if err == nil && r.Value != 1 {
				err = fmt.Errorf("value %v, want 1", r.Value)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rejected != 0 {
		t.Fatalf("%d request(s) refused for the rate limit", f.rejected)
	}
}

func TestBadAnswers(t *testing.T) {
	verifytest.RunBadAnswers(t, func(url string) verify.Provider { return newProvider(t, url, nil) }, q("error | count", false), time.Second)
}

// TestRateLimits checks that Sumo Logic's 429 and the other refusals are
// retried when the answer says, within the query's time.
func TestRateLimits(t *testing.T) {
	f, srv := newFakeSumo(t)
	seed(f)
	verifytest.RunRateLimits(t, func(url string) verify.Provider { return newProvider(t, url, nil) }, srv.URL,
		q("_sourceCategory=shop/blue error | count", false))
}
