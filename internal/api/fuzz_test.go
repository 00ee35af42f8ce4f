package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// fuzzEndpoints are the requests whose bodies people write: a run's variables,
// the decisions on an execution, and applied definitions (YAML or JSON).
var fuzzEndpoints = []string{
	"/api/v1/workflows/checkout/run",
	"/api/v1/executions/ex-1/approve",
	"/api/v1/executions/ex-1/reject",
	"/api/v1/executions/ex-1/rollback",
	"/api/v1/executions/ex-1/abort",
	"/api/v1/apply?file=fuzz.yaml&dryRun=true",
	"/api/v1/apply?file=fuzz.yaml",
}

// FuzzRequestBodies posts arbitrary bodies to the endpoints that decode them: each
// answer is a success or a client error (never 5xx), always JSON, and a client
// error carries a code and a message.
func FuzzRequestBodies(f *testing.F) {
	for i, b := range []string{
		`{"version":2,"variables":{"version":"v3","replicas":3,"dry":true}}`,
		`{"comment":"looks good"}`, `{"comment":"p99 too high"}`, `{"reason":"pager went off"}`, ``,
	} {
		f.Add(uint8(i), []byte(b))
	}
	for _, b := range []string{`{"variables":{"version":"v3",}}`, `{"version":"two"}`, `{"vars":{}}`,
		`{"variables":{"canary_percent":{"value":10}}}`, `{} {}`, `null`, `[]`, `{"version":1e400}`} {
		f.Add(uint8(0), []byte(b))
	}
	for _, name := range []string{"apply-all.yaml", "apply-bad.yaml", "apply-changed.yaml"} {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(5), src)
		f.Add(uint8(6), src)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "sluice.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	h := api.New(api.Deps{Store: st, Engine: &engineSpy{}, Broker: events.New(st, events.WithPollInterval(0)),
		Now: func() time.Time { return clock }, Heartbeat: 20 * time.Millisecond, StatusPoll: 50 * time.Millisecond})
	f.Fuzz(func(t *testing.T, endpoint uint8, body []byte) {
		path := fuzzEndpoints[int(endpoint)%len(fuzzEndpoints)]
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:7070"+path, bytes.NewReader(body))
		req.Header.Set("X-Sluice-User", "fuzzer")
		req.Header.Set(api.HeaderRequest, "1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s answered %d: %s", path, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST %s answered %d with a body that is not JSON: %q", path, rec.Code, rec.Body)
		}
		if rec.Code < 400 {
			return
		}
		var eb api.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			t.Fatalf("POST %s answered %d without an error code and message: %s", path, rec.Code, rec.Body)
		}
	})
}
