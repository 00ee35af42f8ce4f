package prometheus_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/prometheus"
	"github.com/sluicehq/sluice/internal/verify/verifytest"
)

// base is where scripts/prometheus.sh's backfilled data starts; it lasts one hour.
var base = time.Unix(1700000000, 0).UTC()

// at is the end of every window over the backfilled data.
var at = base.Add(30 * time.Minute)

// serverURL returns the real Prometheus started by scripts/prometheus.sh, or skips
// (fails under CI=true) when there is none.
func serverURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("SLUICE_TEST_PROMETHEUS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("SLUICE_TEST_PROMETHEUS_URL is not set; run eval \"$(scripts/prometheus.sh start)\" first")
		}
		t.Skip("no Prometheus: run eval \"$(scripts/prometheus.sh start)\" to test against a real server")
	}
	return u
}

func newProvider(t *testing.T, url string, settings map[string]string) *prometheus.Provider {
	t.Helper()
	p, err := prometheus.New(context.Background(), spec.ProviderSpec{Name: "prom", Type: "prometheus", URL: url, Settings: settings}, verify.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func instant(text string) verify.Query {
	return verify.Query{Text: text, Service: "shop", Slot: "blue", End: at, Window: time.Minute}
}

func TestConformance(t *testing.T) {
	url := serverURL(t)
	ranged := instant(`sluice_test_latency_ms{slot="blue"}`)
	ranged.Sample, ranged.Window = true, 10*time.Minute
	verifytest.Run(t, verifytest.Fixture{
		Provider: newProvider(t, url, nil),
		Known: []verifytest.Case{
			{Name: "gauge", Query: instant(`sluice_test_error_ratio{slot="blue"}`), Want: 0.05},
			{Name: "rate of a counter", Query: instant(`sum(rate(sluice_test_requests_total{slot="blue"}[1m]))`), Want: 2, Tolerance: 1e-9},
			{Name: "scalar", Query: instant(`scalar(sluice_test_error_ratio{slot="green"})`), Want: 0.01},
			{Name: "range", Query: ranged, Want: math.NaN(), MinPoints: 500},
		},
		NoData:      instant(`sluice_test_error_ratio{slot="nowhere"}`),
		Invalid:     instant(`sum(rate(`),
		Unreachable: newProvider(t, "http://127.0.0.1:1", nil),
	})
}

func TestAnswers(t *testing.T) {
	p := newProvider(t, serverURL(t), nil)
	long := instant(`sluice_test_latency_ms{slot="green"}`)
	long.Sample, long.Window = true, 4*time.Hour // 14,400 points at 1 s: the step must grow
	tests := []struct {
		name   string
		q      verify.Query
		want   float64
		noData bool
		err    string
	}{
		{"NaN is no data", instant(`sluice_test_nan`), 0, true, ""},
		{"+Inf is a value", instant(`1/0`), math.Inf(1), false, ""},
		{"-Inf is a value", instant(`-1/0`), math.Inf(-1), false, ""},
		{"several series must be aggregated", instant(`sluice_test_error_ratio`), 0, false, "2 series"},
		{"a long window stays under 11,000 points", long, 100, false, ""},
		{"outside the data is no data", verify.Query{Text: `sluice_test_error_ratio{slot="blue"}`, End: base.Add(-time.Hour), Window: time.Minute}, 0, true, ""},
		{"a string is not a number", instant(`"text"`), 0, false, "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := p.Query(context.Background(), tt.q)
			switch {
			case tt.noData:
				if !errors.Is(err, verify.ErrNoData) {
					t.Fatalf("got %+v, %v; want no data", r, err)
				}
			case tt.err != "":
				if err == nil || errors.Is(err, verify.ErrNoData) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error mentioning %q", err, tt.err)
				}
			case err != nil:
				t.Fatal(err)
			case r.Value != tt.want:
				t.Fatalf("value %v, want %v", r.Value, tt.want)
			}
		})
	}
}

func TestStep(t *testing.T) {
	tests := []struct {
		window, min, want time.Duration
	}{
		{time.Minute, time.Second, time.Second},
		{time.Minute, 15 * time.Second, 15 * time.Second},
		{4 * time.Hour, time.Second, 2 * time.Second},
		{24 * time.Hour, time.Second, 8 * time.Second},
		{30 * 24 * time.Hour, time.Minute, 236 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.window.String(), func(t *testing.T) {
			got := prometheus.Step(tt.window, tt.min)
			if got != tt.want {
				t.Fatalf("Step(%s, %s) = %s, want %s", tt.window, tt.min, got, tt.want)
			}
			if points := int(tt.window/got) + 1; points > 11000 {
				t.Fatalf("%d points", points)
			}
		})
	}
}

func TestBadAnswers(t *testing.T) {
	verifytest.RunBadAnswers(t, func(url string) verify.Provider { return newProvider(t, url, nil) }, instant("up"), time.Second)
}

// fake answers like Prometheus does, with the given body and status.
func fake(t *testing.T, status int, body string, check func(r *http.Request)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if check != nil {
			check(r)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestWarningsAndErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		warn   string
		err    string
	}{
		{"warnings are passed on", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700001800,"0.5"]}]},"warnings":["PromQL warning: encountered a mix of histograms and floats"]}`, "mix of histograms", ""},
		{"bad_data", 400, `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}`, "", "bad_data: 1:5: parse error"},
		{"execution error", 422, `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`, "", "too many samples"},
		{"unavailable", 503, `{"status":"error","errorType":"unavailable","error":"shutting down"}`, "", "503"},
		{"success without data", 200, `{"status":"success"}`, "", "result type"},
		{"value not a string", 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700001800,0.5]}]}}`, "", "not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, fake(t, tt.status, tt.body, nil), nil)
			r, err := p.Query(context.Background(), instant("x"))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], tt.warn) {
				t.Fatalf("warnings %q", r.Warnings)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	const token = "tok-0123456789-secret"
	var got string
	url := fake(t, 401, `{"status":"error","errorType":"unauthorized","error":"bad token tok-0123456789-secret"}`, func(r *http.Request) {
		got = r.Header.Get("Authorization")
	})
	ps := spec.ProviderSpec{Name: "prom", Type: "prometheus", URL: url,
		Credentials: map[string]spec.SecretRef{"token": {Env: "PROM_TOKEN"}}, Settings: map[string]string{"header.X-Scope-OrgID": "team-a"}}
	p, err := prometheus.New(context.Background(), ps, verify.Deps{Getenv: func(k string) string {
		if k == "PROM_TOKEN" {
			return token
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not authorised") {
		t.Fatalf("Check: %v", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Fatalf("error shows the token: %v", err)
	}
	if got != "Bearer "+token {
		t.Fatalf("Authorization %q", got)
	}
	if _, err := prometheus.New(context.Background(), ps, verify.Deps{Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), "PROM_TOKEN") {
		t.Fatalf("missing credential: %v", err)
	}
	for _, bad := range []spec.ProviderSpec{{URL: "ftp://x"}, {URL: ""}, {URL: url, Settings: map[string]string{"nope": "1"}}, {URL: url, Settings: map[string]string{"step": "-1s"}}} {
		if _, err := prometheus.New(context.Background(), bad, verify.Deps{}); err == nil {
			t.Fatalf("spec %+v accepted", bad)
		}
	}
}

// TestRateLimits checks that 429 and 503 answers are retried when and only when
// the answer says, within the query's time.
func TestRateLimits(t *testing.T) {
	good := fake(t, 200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700001800,"0.5"]}]}}`, nil)
	verifytest.RunRateLimits(t, func(url string) verify.Provider { return newProvider(t, url, nil) }, good, instant("up"))
}
