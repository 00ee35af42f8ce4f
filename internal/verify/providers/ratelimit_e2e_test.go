package providers_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
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

// rateLimitWorkflow verifies a 10% canary against a Prometheus at %[1]s, with
// the step fields %[2]s, then promotes it.
const rateLimitWorkflow = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  platform: {type: recorder, recorder: {file: unused.jsonl}}
  router: {type: recorder, recorder: {file: unused.jsonl}}
  providers:
    - {name: metrics, type: prometheus, url: "%[1]s"}
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
            interval: 2s
            count: 3
%[2]s            metrics:
              - {name: error-rate, provider: metrics, query: 'errors{slot="{{slot}}"}', successCondition: result < 0.01, consecutiveErrorLimit: 1}
        - promote: {}
`

// limitedProm is a Prometheus of a good canary (error rate 0.1%%) that answers
// 429 with Retry-After: 1 for its first ten seconds, from its first request.
type limitedProm struct {
	mu       sync.Mutex
	first    time.Time
	limited  int
	answered int
}

func (p *limitedProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.first.IsZero() && r.URL.Path == "/api/v1/query" {
		p.first = time.Now()
	}
	limited := !p.first.IsZero() && time.Since(p.first) < 10*time.Second
	if limited {
		p.limited++
	} else {
		p.answered++
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if limited {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"status":"error","errorType":"too_many_requests","error":"rate limited"}`)
		return
	}
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,"0.001"]}]}}`, time.Now().Unix())
}

// TestRateLimitedProviderNeverRollsBackAGoodCanary runs a good canary whose
// metrics provider rate-limits for 10 s: with the default query budget the
// retries ride it out and the release is promoted; with a short budget the
// metric's provider stays unavailable, and onProviderError decides: continue
// promotes without it, pause pauses for a person. Never a rollback.
func TestRateLimitedProviderNeverRollsBackAGoodCanary(t *testing.T) {
	tests := []struct {
		name, fields string
		budget       time.Duration
		want         store.Status
	}{
		{"default: retried within the query's time", "", 30 * time.Second, store.StatusSucceeded},
		{"continue: skipped", "            onProviderError: continue\n", 3 * time.Second, store.StatusSucceeded},
		{"pause: a person decides", "            onProviderError: pause\n", 3 * time.Second, store.StatusPaused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			prom := &limitedProm{}
			h := rateLimitEngine(t, tt.budget)
			h.Apply(fmt.Sprintf(rateLimitWorkflow, serve(t, prom.ServeHTTP), tt.fields))
			ex := h.Start("shop", nil)
			got := settle(t, h, ex.ID, time.Minute)
			console := h.Console(ex.ID)
			if got.Status != tt.want {
				t.Fatalf("%s (%s), want %s\n%s", got.Status, got.Reason, tt.want, console)
			}
			prom.mu.Lock()
			limited := prom.limited
			prom.mu.Unlock()
			if limited < 3 {
				t.Fatalf("the provider refused %d request(s); the test did not rate-limit\n%s", limited, console)
			}
			if strings.Contains(console, "rolling back") {
				t.Fatalf("rolled back:\n%s", console)
			}
			checkOutcome(t, h, got, console, tt.want, tt.fields)
		})
	}
}

// checkOutcome checks what each outcome must show: the skipped metric in the
// record, or the pause's reason and the traffic left on the canary.
func checkOutcome(t *testing.T, h *enginetest.Harness, ex store.Execution, console string, want store.Status, fields string) {
	t.Helper()
	switch {
	case strings.Contains(fields, "continue"):
		if recs := h.Records(ex.ID, "skipped"); len(recs) != 1 || !strings.Contains(console, "error-rate skipped") {
			t.Errorf("skipped records %s; console:\n%s", recs, console)
		}
	case want == store.StatusPaused:
		if !strings.Contains(ex.Reason, "provider stayed unavailable") || !strings.Contains(ex.Reason, "onProviderError: pause") {
			t.Errorf("reason %q does not say the provider stayed unavailable", ex.Reason)
		}
		w, err := h.Recorder.Weights(context.Background(), traffic.ServiceRef{Service: "shop"})
		if err != nil || w.Blue != 10 {
			t.Errorf("router reads back %s (%v), want the canary's 10%% left in place for the person", w, err)
		}
	default:
		if n := len(h.Records(ex.ID, "skipped")); n != 0 {
			t.Errorf("%d skipped record(s), want none: the retries rode out the rate limit", n)
		}
	}
}

// rateLimitEngine is a real engine whose verify step builds real providers with
// the given query budget.
func rateLimitEngine(t *testing.T, budget time.Duration) *enginetest.Harness {
	t.Helper()
	step := verify.NewStep(providers.NewSource(providers.Types, verify.Deps{}), verify.WithQueryTimeout(budget))
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

// settle waits until the execution is finished or paused, up to limit.
func settle(t *testing.T, h *enginetest.Harness, id string, limit time.Duration) store.Execution {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ex := h.Get(id)
		if ex.Status.Terminal() || ex.Status == store.StatusPaused {
			return ex
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution is still %s after %s\n%s", ex.Status, limit, h.Console(id))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOnProviderErrorRollbackOverridesTheStrategy checks that onProviderError:
// rollback rolls back even where the workflow's failure strategy would pause,
// and that the default pause pauses where the strategy would roll back.
func TestOnProviderErrorRollbackOverridesTheStrategy(t *testing.T) {
	tests := []struct {
		strategy, fields string
		want             store.Status
	}{
		{"pause", "            onProviderError: rollback\n", store.StatusRolledBack},
		{"rollback", "", store.StatusPaused},
	}
	for _, tt := range tests {
		t.Run("onFailure "+tt.strategy, func(t *testing.T) {
			t.Parallel()
			prom := &limitedProm{}
			h := rateLimitEngine(t, 3*time.Second)
			src := fmt.Sprintf(rateLimitWorkflow, serve(t, prom.ServeHTTP), tt.fields)
			h.Apply(strings.Replace(src, "  environment: test\n", "  environment: test\n  onFailure: "+tt.strategy+"\n", 1))
			ex := h.Start("shop", nil)
			got := settle(t, h, ex.ID, time.Minute)
			if got.Status != tt.want || !strings.Contains(got.Reason, "provider stayed unavailable") {
				t.Fatalf("%s (%s), want %s for the provider\n%s", got.Status, got.Reason, tt.want, h.Console(ex.ID))
			}
		})
	}
}
