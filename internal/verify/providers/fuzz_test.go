package providers_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/providers"
)

// answers is an in-process transport that answers every request of a provider
// with the fuzzed status and body; a Sumo Logic search job is created normally
// and its status poll answers jobStatus, so the fuzzed body reaches the records
// and messages parsers too.
type answers struct {
	status          int
	body, jobStatus []byte
}

func (a answers) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	resp := &http.Response{StatusCode: a.status, Header: http.Header{"Content-Type": {"application/json"}}, Request: r,
		Body: io.NopCloser(bytes.NewReader(a.body))}
	switch p := r.URL.Path; {
	case strings.HasSuffix(p, "/api/v1/search/jobs") && r.Method == http.MethodPost:
		resp.StatusCode, resp.Body = http.StatusAccepted, io.NopCloser(strings.NewReader(`{"id":"j1"}`))
		resp.Header.Set("Location", "/api/v1/search/jobs/j1")
	case strings.HasSuffix(p, "/jobs/j1") && r.Method == http.MethodGet:
		resp.StatusCode, resp.Body = http.StatusOK, io.NopCloser(bytes.NewReader(a.jobStatus))
	case r.Method == http.MethodDelete:
		resp.StatusCode, resp.Body = http.StatusOK, http.NoBody
	}
	return resp, nil
}

// fuzzSpecs are the remote provider types, each with the settings and credentials
// its constructor needs.
var fuzzSpecs = map[string]spec.ProviderSpec{
	"prometheus": {Name: "p", Type: "prometheus", URL: "http://prom.invalid"},
	"datadog": {Name: "p", Type: "datadog", URL: "http://dd.invalid",
		Credentials: map[string]spec.SecretRef{"apiKey": {Env: "K"}, "appKey": {Env: "K"}}},
	"newrelic": {Name: "p", Type: "newrelic", URL: "http://nr.invalid/graphql", Settings: map[string]string{"accountId": "42"},
		Credentials: map[string]spec.SecretRef{"apiKey": {Env: "K"}}},
	"sumologic": {Name: "p", Type: "sumologic", URL: "http://sumo.invalid", Settings: map[string]string{"pollInterval": "1ms"},
		Credentials: map[string]spec.SecretRef{"accessId": {Env: "K"}, "accessKey": {Env: "K"}}},
	"loki":         {Name: "p", Type: "loki", URL: "http://loki.invalid"},
	"http":         {Name: "p", Type: "http", URL: "http://json.invalid/q", Settings: map[string]string{"path": "data.value", "sample": "data.series"}},
	"victorialogs": {Name: "p", Type: "victorialogs", URL: "http://vl.invalid"},
}

// fuzzSeeds are well-formed and odd answers from the providers' own tests.
var fuzzSeeds = map[string][]string{
	"prometheus": {
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700001800,"0.5"]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"slot":"blue"},"values":[[1700001800,"0.5"],[1700001860,"NaN"]]}]}}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1700001800,"+Inf"]}}`,
		`{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700001800,0.5]}]}}`,
	},
	"datadog": {
		`{"status":"ok","res_type":"time_series","series":[{"metric":"m","scope":"slot:blue","pointlist":[[1700000300000,0.05],[1700000320000,null]],"length":2}]}`,
		`{"status":"ok","series":[]}`,
		`{"errors":["Error parsing query: unable to parse x"]}`,
	},
	"newrelic": {
		`{"data":{"actor":{"account":{"nrql":{"results":[{"count":12.0}]}}}}}`,
		`{"data":{"actor":{"account":{"nrql":{"results":[{"percentile.duration":{"50":0.12,"99":0.31}}]}}}}}`,
		`{"data":{"actor":{"account":{"nrql":{"results":[{"beginTimeSeconds":1700000300,"endTimeSeconds":1700000330,"percentage":5.0}]}}}}}`,
		`{"errors":[{"message":"Invalid API key","extensions":{"errorClass":"UNAUTHORIZED"}}]}`,
	},
	"sumologic": {
		`{"records":[{"map":{"_count":"3"}}]}`,
		`{"records":[{"map":{"_count":"NaN","avg":"1e400"}}]}`,
		`{"messages":[{"map":{"_raw":"ERROR db timeout item=1"}}]}`,
	},
	"loki": {
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000600,"3"]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000600,"3"]]}]}}`,
		`{"status":"success","data":{"resultType":"streams","result":[{"stream":{"slot":"blue"},"values":[["1700000500000000000","ERROR x"]]}]}}`,
	},
	"victorialogs": {
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000600,"3"]}]}}`,
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000600,"3"]]}]}}`,
		"{\"_msg\":\"ERROR db timeout\",\"_time\":\"2023-11-14T22:13:20Z\"}\n{\"_msg\":\"GET / 200\"}\n",
	},
	"http": {
		`{"data":{"value":0.99,"series":[[1700000600,1],[1700000660,"2"]]}}`,
		`{"data":{"value":"0.5","series":[1,2,3]}}`,
		`{"data":{"value":null}}`,
	},
}

// jobStatuses are Sumo Logic job states for the status poll, one per query mode
// (metric, sample, logs).
var jobStatuses = []string{
	`{"state":"DONE GATHERING RESULTS","messageCount":1,"recordCount":1}`,
	`{"state":"DONE GATHERING RESULTS","messageCount":1,"recordCount":1}`,
	`{"state":"DONE GATHERING RESULTS","messageCount":250000,"recordCount":0}`,
}

// fuzzAnswers feeds arbitrary answers to a provider's Query: it must return a value
// or an error that names the provider, within the query's deadline, and never panic.
func fuzzAnswers(f *testing.F, typ string) {
	ps := fuzzSpecs[typ]
	for i, s := range fuzzSeeds[typ] {
		f.Add(uint8(i), uint16(200), []byte(s), []byte(jobStatuses[i%len(jobStatuses)]))
	}
	f.Add(uint8(0), uint16(502), []byte("<html>502</html>"), []byte(jobStatuses[0]))
	f.Add(uint8(1), uint16(200), []byte(`{"status":"success","data":{"resultType":"vec`), []byte(`{"state":""}`))
	f.Add(uint8(0), uint16(200), []byte(`{}`), []byte(`{"state":"CANCELLED","pendingErrors":["x"]}`))
	end := time.Unix(1700000600, 0)
	f.Fuzz(func(t *testing.T, mode uint8, code uint16, body, jobStatus []byte) {
		status := http.StatusOK
		if code >= 100 && code < 600 {
			status = int(code)
		}
		deps := verify.Deps{
			HTTP:   &http.Client{Transport: answers{status: status, body: body, jobStatus: jobStatus}},
			Getenv: func(string) string { return "fuzz-credential" },
		}
		p, err := providers.Types.New(context.Background(), ps, deps)
		if err != nil {
			t.Fatal(err)
		}
		q := verify.Query{Text: "errors", Service: "shop", Slot: "blue", End: end, Window: 5 * time.Minute,
			Sample: mode%3 == 1, Logs: mode%3 == 2 && (typ == "loki" || typ == "sumologic" || typ == "victorialogs")}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := p.Query(ctx, q)
			done <- err
		}()
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Query still running 10s after a 50ms deadline", typ)
		}
		if err != nil && !errors.Is(err, verify.ErrNoData) && !strings.Contains(err.Error(), typ) {
			t.Fatalf("error %q does not name the provider %s", err, typ)
		}
	})
}

// FuzzPrometheusAnswer fuzzes the Prometheus provider's answer parsing.
func FuzzPrometheusAnswer(f *testing.F) { fuzzAnswers(f, "prometheus") }

// FuzzDatadogAnswer fuzzes the Datadog provider's answer parsing.
func FuzzDatadogAnswer(f *testing.F) { fuzzAnswers(f, "datadog") }

// FuzzNewRelicAnswer fuzzes the New Relic provider's answer parsing.
func FuzzNewRelicAnswer(f *testing.F) { fuzzAnswers(f, "newrelic") }

// FuzzSumoLogicAnswer fuzzes the Sumo Logic provider's job status, records and
// messages parsing.
func FuzzSumoLogicAnswer(f *testing.F) { fuzzAnswers(f, "sumologic") }

// FuzzLokiAnswer fuzzes the Loki provider's answer parsing.
func FuzzLokiAnswer(f *testing.F) { fuzzAnswers(f, "loki") }

// FuzzVictoriaLogsAnswer fuzzes the VictoriaLogs provider's stats and log line parsing.
func FuzzVictoriaLogsAnswer(f *testing.F) { fuzzAnswers(f, "victorialogs") }

// FuzzHTTPJSONAnswer fuzzes the generic HTTP/JSON provider's answer parsing and
// JSON paths.
func FuzzHTTPJSONAnswer(f *testing.F) { fuzzAnswers(f, "http") }
