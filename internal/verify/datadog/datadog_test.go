package datadog_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/datadog"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

const apiKey, appKey = "dd-api-0123456789", "dd-app-9876543210"

var end = time.Unix(1700000600, 0)

// fakeDatadog follows the documented shape of GET /api/v1/query: series with a
// pointlist of [ms, value-or-null] pairs, status "ok", and {"errors": [...]} with
// 400 or 403. Points are every 20 s from the window's start; blue's every other
// point is null (a sparse metric).
func fakeDatadog(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("DD-API-KEY") != apiKey || (r.URL.Path == "/api/v1/query" && r.Header.Get("DD-APPLICATION-KEY") != appKey) {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":["Forbidden"]}`))
			return
		}
		switch r.URL.Path {
		case "/api/v1/validate":
			w.Write([]byte(`{"valid":true}`))
		case "/api/v1/query":
			query(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func query(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := v.Get("query")
	from, err1 := strconv.ParseInt(v.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(v.Get("to"), 10, 64)
	if err1 != nil || err2 != nil || strings.Count(q, "{") != strings.Count(q, "}") || !strings.Contains(q, ":") {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"errors":["Error parsing query: unable to parse ` + q + `"]}`))
		return
	}
	var series []map[string]any
	switch {
	case strings.Contains(q, "slot:blue"):
		series = append(series, serie("slot:blue", from, to, func(i int) any {
			if i%2 == 1 {
				return nil
			}
			return 0.05
		}))
	case strings.Contains(q, "slot:green"):
		series = append(series, serie("slot:green", from, to, func(int) any { return 0.01 }))
	case strings.Contains(q, "slot:empty"):
		series = append(series, serie("slot:empty", from, to, func(int) any { return nil }))
	case strings.Contains(q, " by {slot}"):
		series = append(series, serie("slot:blue", from, to, func(int) any { return 1.0 }), serie("slot:green", from, to, func(int) any { return 2.0 }))
	}
	json.NewEncoder(w).Encode(map[string]any{
		"status": "ok", "res_type": "time_series", "query": q, "from_date": from * 1000, "to_date": to * 1000,
		"series": append([]map[string]any{}, series...), "message": "", "group_by": []string{},
	})
}

func serie(scope string, from, to int64, value func(int) any) map[string]any {
	var pts [][2]any
	for i, t := 0, from; t <= to; i, t = i+1, t+20 {
		pts = append(pts, [2]any{float64(t * 1000), value(i)})
	}
	return map[string]any{"metric": "trace.http.request.errors", "scope": scope, "pointlist": pts, "length": len(pts), "expression": "x"}
}

func newProvider(t *testing.T, url, api string) *datadog.Provider {
	t.Helper()
	keys := map[string]string{"DD_API": api, "DD_APP": appKey}
	p, err := datadog.New(context.Background(), spec.ProviderSpec{Name: "dd", Type: "datadog", URL: url,
		Credentials: map[string]spec.SecretRef{"apiKey": {Env: "DD_API"}, "appKey": {Env: "DD_APP"}}},
		verify.Deps{Getenv: func(k string) string { return keys[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func q(text string) verify.Query {
	return verify.Query{Text: text, End: end, Window: 5 * time.Minute}
}

func TestConformance(t *testing.T) {
	srv := fakeDatadog(t)
	sampled := q("avg:errors{slot:blue}")
	sampled.Sample = true
	verifytest.Run(t, verifytest.Fixture{
		Provider: newProvider(t, srv.URL, apiKey),
		Known: []verifytest.Case{
			{Name: "sparse series", Query: q("avg:errors{slot:blue}"), Want: 0.05},
			{Name: "dense series", Query: q("avg:errors{slot:green}"), Want: 0.01},
			{Name: "sample skips nulls", Query: sampled, Want: 0.05, MinPoints: 8},
		},
		NoData:      q("avg:errors{slot:none}"),
		Invalid:     q("avg:errors{slot:blue"),
		Unreachable: newProvider(t, "http://127.0.0.1:1", apiKey),
	})
}

func TestAnswers(t *testing.T) {
	srv := fakeDatadog(t)
	p := newProvider(t, srv.URL, apiKey)
	if _, err := p.Query(context.Background(), q("avg:errors{slot:empty}")); !errors.Is(err, verify.ErrNoData) {
		t.Fatalf("only null points: %v, want no data", err)
	}
	if _, err := p.Query(context.Background(), q("avg:errors{*} by {slot}")); err == nil || !strings.Contains(err.Error(), "2 series") {
		t.Fatalf("two series: %v", err)
	}
	bad := newProvider(t, srv.URL, "wrong-key-000")
	err := bad.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not authorised") || strings.Contains(err.Error(), "wrong-key-000") {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := datadog.New(context.Background(), spec.ProviderSpec{}, verify.Deps{}); err == nil || !strings.Contains(err.Error(), "apiKey") {
		t.Fatalf("no keys: %v", err)
	}
}

func TestBadAnswers(t *testing.T) {
	verifytest.RunBadAnswers(t, func(url string) verify.Provider { return newProvider(t, url, apiKey) }, q("avg:x{*}"), time.Second)
}

// TestRateLimits checks that Datadog's 429 with X-RateLimit-Reset, and the other
// refusals, are retried when the answer says, within the query's time.
func TestRateLimits(t *testing.T) {
	srv := fakeDatadog(t)
	verifytest.RunRateLimits(t, func(url string) verify.Provider { return newProvider(t, url, apiKey) }, srv.URL, q("avg:errors{slot:blue}"))
}
