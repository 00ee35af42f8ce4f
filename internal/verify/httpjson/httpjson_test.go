package httpjson_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/httpjson"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

// metricsAPI is a small JSON API: GET /metrics?name=..&slot=..&window=.. answers
// {"data":{"value":..,"latency":{"p99":..},"series":[[t,"v"],..]}}, with null for
// an unknown name; it needs the X-Api-Key header.
func metricsAPI(t *testing.T, key string) (*httptest.Server, *[]string) {
	values := map[string]float64{"error_rate/blue": 0.05, "error_rate/green": 0.01}
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != key {
			http.Error(w, `{"error":"bad key"}`, http.StatusForbidden)
			return
		}
		if r.URL.Path == "/health" {
			w.Write([]byte(`{"ok":true}`))
			return
		}
		name, slot := r.URL.Query().Get("name"), r.URL.Query().Get("slot")
		if r.Method == http.MethodPost {
			var in struct{ Name, Slot string }
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
				return
			}
			name, slot = in.Name, in.Slot
			mu.Lock()
			bodies = append(bodies, in.Name)
			mu.Unlock()
		}
		if strings.ContainsAny(name, "(") {
			http.Error(w, `{"error":"bad query"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		v, ok := values[name+"/"+slot]
		if !ok {
			w.Write([]byte(`{"data":{"value":null,"latency":null,"series":[]}}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
			"value": v, "latency": map[string]any{"p99": "212.5"},
			"series": [][]any{{1700000000, "0.04"}, {1700000015, "NaN"}, {1700000030, "0.06"}},
		}})
	}))
	t.Cleanup(srv.Close)
	return srv, &bodies
}

func newProvider(t *testing.T, url string, settings map[string]string) *httpjson.Provider {
	t.Helper()
	ps := spec.ProviderSpec{Name: "api", Type: "http", URL: url + "/metrics?name={{query}}&slot={{slot}}&window={{window}}",
		Credentials: map[string]spec.SecretRef{"header.X-Api-Key": {Env: "API_KEY"}},
		Settings:    map[string]string{"path": "data.value", "values.p99": "data.latency.p99", "sample": "data.series", "check": url + "/health"}}
	for k, v := range settings {
		ps.Settings[k] = v
	}
	p, err := httpjson.New(context.Background(), ps, verify.Deps{Getenv: func(string) string { return "key-123456" }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func q(text, slot string) verify.Query {
	return verify.Query{Text: text, Slot: platform.Slot(slot), Service: "shop", End: time.Unix(1700000030, 0), Window: 30 * time.Second}
}

func TestConformance(t *testing.T) {
	srv, _ := metricsAPI(t, "key-123456")
	sampled := q("error_rate", "blue")
	sampled.Sample = true
	verifytest.Run(t, verifytest.Fixture{
		Provider: newProvider(t, srv.URL, nil),
		Known: []verifytest.Case{
			{Name: "value", Query: q("error_rate", "blue"), Want: 0.05},
			{Name: "other slot", Query: q("error_rate", "green"), Want: 0.01},
			{Name: "named value from a string", Query: q("error_rate", "green"), Want: math.NaN(), Values: map[string]float64{"p99": 212.5}},
			{Name: "sample drops NaN", Query: sampled, Want: 0.05, MinPoints: 2},
		},
		NoData:      q("unknown_metric", "blue"),
		Invalid:     q("rate(x)", "blue"),
		Unreachable: newProvider(t, "http://127.0.0.1:1", nil),
	})
}

func TestPostBodyTemplate(t *testing.T) {
	srv, bodies := metricsAPI(t, "key-123456")
	p := newProvider(t, srv.URL, map[string]string{"method": "post", "body": `{"name": "{{query}}", "slot": "{{slot}}"}`})
	r, err := p.Query(context.Background(), q(`error_rate`, "green"))
	if err != nil || r.Value != 0.01 {
		t.Fatalf("%+v %v", r, err)
	}
	// A quote in the query is escaped inside the JSON body, not injected.
	if _, err := p.Query(context.Background(), q(`a"b`, "green")); !errors.Is(err, verify.ErrNoData) {
		t.Fatalf("query with a quote: %v", err)
	}
	if got := *bodies; len(got) != 2 || got[1] != `a"b` {
		t.Fatalf("bodies %q", got)
	}
}

func TestBadAnswers(t *testing.T) {
	verifytest.RunBadAnswers(t, func(url string) verify.Provider {
		p, err := httpjson.New(context.Background(), spec.ProviderSpec{URL: url, Settings: map[string]string{"path": "data.value"}}, verify.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}, q("x", "blue"), time.Second)
}

func TestSecrets(t *testing.T) {
	srv, _ := metricsAPI(t, "another-key")
	p := newProvider(t, srv.URL, nil)
	err := p.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "key-123456") {
		t.Fatalf("Check with a wrong key: %v", err)
	}
	for _, bad := range []map[string]string{{}, {"path": "a[x]"}, {"path": "a", "nope": "1"}} {
		if _, err := httpjson.New(context.Background(), spec.ProviderSpec{URL: srv.URL, Settings: bad}, verify.Deps{}); err == nil {
			t.Fatalf("settings %v accepted", bad)
		}
	}
}

func TestPaths(t *testing.T) {
	doc := `{"data":{"result":[{"value":[1700000000,"0.5"]}],"empty":[],"n":null,"x":3}}`
	tests := []struct {
		path   string
		want   float64
		noData bool
		err    bool
	}{
		{"data.result[0].value[1]", 0.5, false, false},
		{"$.data.result[-1].value[1]", 0.5, false, false},
		{"data.x", 3, false, false},
		{"data.empty[0]", 0, true, false},
		{"data.n", 0, true, false},
		{"data.missing", 0, false, true},
		{"data.result.value", 0, false, true},
		{"data.result[0]", 0, false, true},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(doc)) }))
	defer srv.Close()
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := httpjson.New(context.Background(), spec.ProviderSpec{URL: srv.URL, Settings: map[string]string{"path": tt.path}}, verify.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			r, err := p.Query(context.Background(), q("x", "blue"))
			switch {
			case tt.noData:
				if !errors.Is(err, verify.ErrNoData) {
					t.Fatalf("got %+v %v, want no data", r, err)
				}
			case tt.err:
				if err == nil || errors.Is(err, verify.ErrNoData) {
					t.Fatalf("got %+v %v, want an error", r, err)
				}
			case err != nil || r.Value != tt.want:
				t.Fatalf("got %+v %v, want %v", r, err, tt.want)
			}
		})
	}
}

// TestRateLimits checks that 429 and 503 answers are retried when the answer
// says, within the query's time.
func TestRateLimits(t *testing.T) {
	srv, _ := metricsAPI(t, "key-123456")
	verifytest.RunRateLimits(t, func(url string) verify.Provider { return newProvider(t, url, nil) }, srv.URL, q("error_rate", "green"))
}
