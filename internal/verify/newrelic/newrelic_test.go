package newrelic_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/newrelic"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

const key = "NRAK-0123456789ABCDEF"

var end = time.Unix(1700000600, 0)

var windowRE = regexp.MustCompile(`SINCE (\d{13}) UNTIL (\d{13})`)

// fakeNerdGraph answers POST /graphql like NerdGraph: errors (a bad key, an NRQL
// syntax error, an unknown account) come in the errors array with HTTP 200.
func fakeNerdGraph(t *testing.T) (*httptest.Server, *[]string) {
	srv, seen, _ := fakeNerdGraphTimeouts(t)
	return srv, seen
}

// fakeNerdGraphTimeouts is fakeNerdGraph that also returns the timeout
// arguments it was sent.
func fakeNerdGraphTimeouts(t *testing.T) (*httptest.Server, *[]string, *[]int) {
	var timeouts []int
	var seen []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var in struct {
			Query     string
			Variables struct {
				AccountID int    `json:"accountId"`
				NRQL      string `json:"nrql"`
				Timeout   *int   `json:"timeout"`
			}
		}
		if r.Method != http.MethodPost || r.URL.Path != "/graphql" || json.NewDecoder(r.Body).Decode(&in) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		// The nrql field's timeout argument is of type Seconds; a variable
		// for it must be declared as such and passed to the field.
		if in.Variables.Timeout != nil && (!strings.Contains(in.Query, "$timeout: Seconds") || !strings.Contains(in.Query, "timeout: $timeout")) {
			w.Write([]byte(`{"errors":[{"message":"Variable $timeout is not used or not declared as Seconds"}]}`))
			return
		}
		mu.Lock()
		seen = append(seen, in.Variables.NRQL)
		if in.Variables.Timeout != nil {
			timeouts = append(timeouts, *in.Variables.Timeout)
		}
		mu.Unlock()
		switch {
		case r.Header.Get("API-Key") != key:
			w.Write([]byte(`{"errors":[{"message":"Invalid API key","extensions":{"errorClass":"UNAUTHORIZED"}}]}`))
		case in.Variables.AccountID != 42:
			w.Write([]byte(`{"data":{"actor":{"account":null}},"errors":[{"message":"Account not found or access denied","path":["actor","account"]}]}`))
		default:
			rows, msg := answer(in.Variables.NRQL)
			if msg != "" {
				w.Write([]byte(`{"data":{"actor":{"account":{"nrql":null}}},"errors":[{"message":` + quote(msg) + `,"path":["actor","account","nrql"]}]}`))
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"actor": map[string]any{"account": map[string]any{"nrql": map[string]any{"results": rows}}}}})
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen, &timeouts
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// answer computes the canned results of an NRQL query, or a syntax error.
func answer(nrql string) ([]map[string]any, string) {
	if !strings.HasPrefix(nrql, "SELECT ") || !strings.Contains(nrql, " FROM ") {
		return nil, "NRQL Syntax Error: Error at line 1 position 1, unexpected '" + strings.Fields(nrql + " x")[0] + "'"
	}
	if strings.Contains(nrql, "1 minute ago") {
		return []map[string]any{{"count": 12.0}}, ""
	}
	if !windowRE.MatchString(nrql) {
		return nil, "NRQL Syntax Error: expected SINCE <epoch ms> UNTIL <epoch ms>"
	}
	blue := strings.Contains(nrql, "slot = 'blue'")
	switch {
	case strings.Contains(nrql, "TIMESERIES"):
		var rows []map[string]any
		for i := range 10 {
			b := float64(end.Add(-5*time.Minute).Unix() + int64(i*30))
			rows = append(rows, map[string]any{"beginTimeSeconds": b, "endTimeSeconds": b + 30, "percentage": 5.0})
		}
		return rows, ""
	case strings.Contains(nrql, "percentile("):
		return []map[string]any{{"percentile.duration": map[string]any{"50": 0.12, "99": 0.31}}}, ""
	case strings.Contains(nrql, "average(") && !blue:
		return []map[string]any{{"average.duration": nil}}, ""
	case strings.Contains(nrql, "percentage(") && blue:
		return []map[string]any{{"percentage": 5.0}}, ""
	case strings.Contains(nrql, "FACET"):
		return []map[string]any{{"facet": "a", "count": 1.0}, {"facet": "b", "count": 2.0}}, ""
	}
	return []map[string]any{{"count": 0.0}}, ""
}

func newProvider(t *testing.T, url string, account string) *newrelic.Provider {
	t.Helper()
	p, err := newrelic.New(context.Background(), spec.ProviderSpec{Name: "nr", Type: "newrelic", URL: url,
		Credentials: map[string]spec.SecretRef{"apiKey": {Env: "NR_KEY"}}, Settings: map[string]string{"accountId": account, "region": "eu"}},
		verify.Deps{Getenv: func(string) string { return key }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func q(nrql string) verify.Query { return verify.Query{Text: nrql, End: end, Window: 5 * time.Minute} }

func TestConformance(t *testing.T) {
	srv, _ := fakeNerdGraph(t)
	sampled := q("SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE slot = 'blue'")
	sampled.Sample = true
	verifytest.Run(t, verifytest.Fixture{
		Provider: newProvider(t, srv.URL, "42"), // the base URL, as for every provider
		Known: []verifytest.Case{
			{Name: "percentage", Query: q("SELECT percentage(count(*), WHERE error IS true) FROM Transaction WHERE slot = 'blue'"), Want: 5},
			{Name: "count of nothing is zero", Query: q("SELECT count(*) FROM Transaction WHERE slot = 'green'"), Want: 0},
			{Name: "percentiles are named values", Query: q("SELECT percentile(duration, 50, 99) FROM Transaction"), Want: math.NaN(),
				Values: map[string]float64{"percentile.duration.99": 0.31}},
			{Name: "timeseries", Query: sampled, Want: 5, MinPoints: 10},
		},
		NoData:      q("SELECT average(duration) FROM Transaction WHERE slot = 'green'"),
		Invalid:     q("SELEKT count(*) FORM Transaction"),
		Unreachable: newProvider(t, "http://127.0.0.1:1/graphql", "42"),
	})
}

func TestErrorsWithStatus200(t *testing.T) {
	srv, seen := fakeNerdGraph(t)
	ctx := context.Background()
	tests := []struct {
		name string
		p    *newrelic.Provider
		nrql string
		want string
	}{
		{"unknown account", newProvider(t, srv.URL+"/graphql", "7"), "SELECT count(*) FROM Transaction", "Account not found"},
		{"syntax error", newProvider(t, srv.URL+"/graphql", "42"), "SELEKT 1", "NRQL Syntax Error"},
		{"facets", newProvider(t, srv.URL+"/graphql", "42"), "SELECT count(*) FROM Transaction FACET host", "2 rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.p.Query(ctx, q(tt.nrql))
			if err == nil || errors.Is(err, verify.ErrNoData) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
	bad, err := newrelic.New(context.Background(), spec.ProviderSpec{URL: srv.URL + "/graphql", Credentials: map[string]spec.SecretRef{"apiKey": {Env: "K"}},
		Settings: map[string]string{"accountId": "42"}}, verify.Deps{Getenv: func(string) string { return "NRAK-wrong-key" }})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Check(ctx); err == nil || !strings.Contains(err.Error(), "Invalid API key") || strings.Contains(err.Error(), "NRAK-wrong-key") {
		t.Fatalf("bad key: %v", err)
	}
	if last := (*seen)[len(*seen)-1]; !strings.Contains(last, "1 minute ago") {
		t.Fatalf("check sent %q", last)
	}
	for _, s := range []map[string]string{{}, {"accountId": "x"}, {"accountId": "1", "region": "mars"}} {
		if _, err := newrelic.New(context.Background(), spec.ProviderSpec{Credentials: map[string]spec.SecretRef{"apiKey": {Env: "K"}}, Settings: s},
			verify.Deps{Getenv: func(string) string { return key }}); err == nil {
			t.Fatalf("settings %v accepted", s)
		}
	}
}

func TestBadAnswers(t *testing.T) {
	verifytest.RunBadAnswers(t, func(url string) verify.Provider { return newProvider(t, url, "42") }, q("SELECT count(*) FROM Transaction"), time.Second)
}

// TestRateLimits checks that NerdGraph's 429 (over 25 concurrent requests) and
// the other refusals are retried when the answer says, within the query's time.
func TestRateLimits(t *testing.T) {
	srv, _ := fakeNerdGraph(t)
	verifytest.RunRateLimits(t, func(url string) verify.Provider { return newProvider(t, url, "42") }, srv.URL,
		q("SELECT count(*) FROM Transaction WHERE slot = 'green'"))
}

// TestTimeoutFromTheQueryBudget checks that each NRQL query is sent with
// NerdGraph's timeout argument: the whole seconds its deadline leaves, less one,
// instead of NerdGraph's 5 s default.
func TestTimeoutFromTheQueryBudget(t *testing.T) {
	srv, _, timeouts := fakeNerdGraphTimeouts(t)
	p := newProvider(t, srv.URL, "42")
	for _, budget := range []time.Duration{30 * time.Second, 12 * time.Second, 500 * time.Millisecond, 5 * time.Minute} {
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		_, err := p.Query(ctx, q("SELECT count(*) FROM Transaction WHERE slot = 'green'"))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	want := [][2]int{{27, 29}, {9, 11}, {1, 1}, {60, 60}} // at least 1 s, at most the 1 minute limit
	if len(*timeouts) != len(want) {
		t.Fatalf("timeouts %v, want %d", *timeouts, len(want))
	}
	for i, got := range *timeouts {
		if got < want[i][0] || got > want[i][1] {
			t.Errorf("query %d: timeout %d, want %d..%d", i, got, want[i][0], want[i][1])
		}
	}
}

// TestURLIsTheBaseURL checks that url is NerdGraph's base URL, as for every
// provider, and that the older form naming the /graphql endpoint still works
// (OldURL tells it, for sluice validate's warning).
func TestURLIsTheBaseURL(t *testing.T) {
	srv, _ := fakeNerdGraph(t)
	for _, u := range []string{srv.URL, srv.URL + "/", srv.URL + "/graphql", srv.URL + "/graphql/"} {
		r, err := newProvider(t, u, "42").Query(context.Background(), q("SELECT count(*) FROM Transaction WHERE slot = 'green'"))
		if err != nil || r.Value != 0 {
			t.Errorf("url %s: %+v %v", u, r, err)
		}
		if old := strings.Contains(u, "/graphql"); newrelic.OldURL(u) != old {
			t.Errorf("OldURL(%s) = %v, want %v", u, !old, old)
		}
	}
}
