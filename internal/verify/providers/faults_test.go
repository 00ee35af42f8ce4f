package providers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/engine/enginetest"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/providers"
)

// faultWorkflow verifies a 10% canary with one metric from the provider "metrics"
// of type %[1]s at %[2]s; %[3]s is the provider's settings.
const faultWorkflow = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  platform: {type: recorder, recorder: {file: unused.jsonl}}
  router: {type: recorder, recorder: {file: unused.jsonl}}
  providers:
    - {name: metrics, type: %[1]s, url: "%[2]s", settings: %[3]s}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: test
  service: {name: shop, port: 8080, artifact: "shop:v2"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 100%%}
        - traffic: 10%%
        - verify:
            interval: 20ms
            count: 3
            onProviderError: rollback
            metrics:
              - {name: error-rate, provider: metrics, query: 'errors{slot="{{slot}}"}', successCondition: result < 0.01}
        - promote: {}
`

// queryTimeout bounds each provider query in these tests.
const queryTimeout = 100 * time.Millisecond

// faultEngine is a real engine whose verify step builds real providers from the
// environment, with a short query timeout and error retry.
func faultEngine(t *testing.T) *enginetest.Harness {
	t.Helper()
	src := providers.NewSource(providers.Types, verify.Deps{})
	step := verify.NewStep(src, verify.WithErrorRetry(5*time.Millisecond), verify.WithQueryTimeout(queryTimeout))
	h := enginetest.New(t, engine.Options{Steps: map[spec.StepType]engine.StepRunner{spec.StepVerify: step}})
	ctx := context.Background()
	ref := platform.SlotRef{Service: "shop", Slot: platform.Green}
	if err := h.Recorder.Deploy(ctx, platform.Deployment{Ref: ref, Artifact: "shop:v1", Instances: 2, Key: "setup"}); err != nil {
		t.Fatal(err)
	}
	svc := &store.ServiceState{Environment: "test", Service: "shop", LiveSlot: "green", Artifact: "shop:v1", Instances: 2, UpdatedAt: time.Now()}
	if err := h.Store.Commit(ctx, &store.Commit{Service: svc}); err != nil {
		t.Fatal(err)
	}
	return h
}

// closedURL is the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// serve returns the URL of a test server answering with h.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// slow answers only after the client gave up.
func slow(w http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(10 * queryTimeout):
	case <-r.Context().Done():
	}
}

func answer(contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		fmt.Fprint(w, body)
	}
}

// TestProviderFaultsRollBackWithTrafficOnTheLiveSlot runs a canary whose metrics
// provider is down, too slow, or answers garbage: every measurement is an Error,
// the verify step fails after the consecutive-error limit, the console says why,
// and (onProviderError: rollback) the rollback leaves all traffic on the live
// slot, as the router reads back.
func TestProviderFaultsRollBackWithTrafficOnTheLiveSlot(t *testing.T) {
	const promJSON = "{}"
	const httpJSON = "{path: value}"
	tests := []struct {
		name, typ, settings string
		url                 func(t *testing.T) string
		console             string // what each Error measurement's console line says, lower case
	}{
		{"prometheus down", "prometheus", promJSON, closedURL, "connection refused"},
		{"prometheus slower than its timeout", "prometheus", promJSON, func(t *testing.T) string { return serve(t, slow) }, "deadline exceeded"},
		{"prometheus answers html", "prometheus", promJSON, func(t *testing.T) string {
			return serve(t, answer("text/html", "<html><body>login</body></html>"))
		}, "http 200 with text/html instead of an api answer"},
		{"prometheus answers truncated json", "prometheus", promJSON, func(t *testing.T) string {
			return serve(t, answer("application/json", `{"status":"success","data":{"resultType":"vec`))
		}, "http 200 with application/json instead of an api answer"},
		{"http provider down", "http", httpJSON, closedURL, "connection refused"},
		{"http provider slower than its timeout", "http", httpJSON, func(t *testing.T) string { return serve(t, slow) }, "deadline exceeded"},
		{"http provider answers a string", "http", httpJSON, func(t *testing.T) string {
			return serve(t, answer("application/json", `{"value": "fast"}`))
		}, `value at value: "fast" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := faultEngine(t)
			h.Apply(fmt.Sprintf(faultWorkflow, tt.typ, tt.url(t), tt.settings))
			ex := h.Start("shop", nil)
			got := h.Finish(ex.ID)
			console := h.Console(ex.ID)
			if got.Status != store.StatusRolledBack {
				t.Fatalf("%s (%s), want rolled back\n%s", got.Status, got.Reason, console)
			}
			for _, want := range []string{"error-rate could not be measured", "consecutive errors"} {
				if !strings.Contains(got.Reason, want) {
					t.Errorf("reason %q does not mention %q", got.Reason, want)
				}
			}
			if n := strings.Count(strings.ToLower(console), tt.console); n < 5 {
				t.Errorf("console says %q %d times, want once per Error measurement (5):\n%s", tt.console, n, console)
			}
			w, err := h.Recorder.Weights(context.Background(), traffic.ServiceRef{Service: "shop"})
			if err != nil || w != traffic.All(platform.Green) {
				t.Errorf("router reads back %s (%v), want all traffic on the live slot green", w, err)
			}
			for _, e := range h.Recorder.Effects() {
				if e.Op == "weights" && e.Weights.Green == 0 {
					t.Errorf("the live slot green was left without traffic: %s", e.Weights)
				}
			}
		})
	}
}
