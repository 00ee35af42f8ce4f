package pipeline_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/internal/pipeline"
	"github.com/sluicehq/sluice/internal/store"
)

// verifiedDocs: staging measured through a generic HTTP/JSON provider before
// production may start.
func verifiedDocs(metrics string) string {
	return fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  platform: {type: recorder, recorder: {file: unused.jsonl}}
  router: {type: recorder, recorder: {file: unused.jsonl}}
  providers:
    - {name: metrics, type: http, url: "%s/errors?service={{service}}&slot={{slot}}", settings: {path: value}}
---
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: verified}
spec:
  variables: [{name: artifact, type: string, required: true}]
  stages:
    - {name: staging, workflow: shop, environment: staging}
    - name: production
      workflow: shop
      environment: production
      gates:
        - verify:
            count: 3
            interval: 50ms
            metrics:
              - {name: error-rate, provider: metrics, query: errors, failureCondition: result > 0.01}
`, metrics)
}

// TestVerificationGate: a verify gate measures staging's live release with the verify
// step's machinery (provider, schedule, judge); production starts once every
// measurement passes, and never when staging's error rate is high.
func TestVerificationGate(t *testing.T) {
	f := newFixture(t)
	var rate atomic.Value
	rate.Store("0.001")
	var asked atomic.Int64
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("service") == "shop" && r.URL.Query().Get("slot") != "" {
			asked.Add(1)
		}
		fmt.Fprintf(w, `{"value": %s}`, rate.Load())
	}))
	defer metrics.Close()
	f.apply(documents(f.check))
	f.apply(verifiedDocs(metrics.URL))

	run, err := f.run("verified", "alice", map[string]string{"artifact": "shop:v1"})
	if err != nil {
		t.Fatal(err)
	}
	run, st := f.waitEnd(run.ID)
	prod := stage(st, "production")
	if run.Status != store.StatusSucceeded || len(prod.Records) < 3 || asked.Load() < 3 {
		t.Fatalf("run %s (%s); %d records, %d queries; want success after 3 measurements\n%s", run.Status, run.Reason, len(prod.Records), asked.Load(), logOf(st))
	}
	if prod.StartAt.Before(stage(st, "staging").FinishedAt) || !strings.Contains(logOf(st), "gate 1 of stage production (verify) passed") {
		t.Fatalf("production did not wait for the verification\n%s", logOf(st))
	}

	rate.Store("0.5")
	run, err = f.run("verified", "alice", map[string]string{"artifact": "shop:v2"})
	if err != nil {
		t.Fatal(err)
	}
	run, st = f.waitEnd(run.ID)
	if p := stage(st, "production"); run.Status != store.StatusFailed || p.Execution != "" || !strings.Contains(p.Reason, "verification") {
		t.Fatalf("run %s (%s), production %+v: want the gate failed and production never started\n%s", run.Status, run.Reason, p, logOf(st))
	}
	if p := stage(st, "production"); p.Status != pipeline.StageFailed {
		t.Fatalf("production %s", p.Status)
	}
}
