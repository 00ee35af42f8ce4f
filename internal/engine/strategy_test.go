package engine_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/internal/store"
)

// layeredYAML is a workflow whose failing webhook step may carry a strategy of its
// own, its phase's, and the workflow's (an empty string leaves a level out).
func layeredYAML(url, workflow, phase, step string) string {
	line := func(indent, value string) string {
		if value == "" {
			return ""
		}
		return indent + "onFailure: " + value + "\n"
	}
	return `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: layered}
spec:
  environment: test
  service: {name: layered, port: 8080, artifact: "layered:v1"}
` + line("  ", workflow) + `  phases:
    - name: canary
` + line("      ", phase) + `      steps:
        - deploy: {instances: 1}
        - traffic: 100%
        - name: check
          webhook: {url: "` + url + `"}
` + line("          ", step) + `        - promote: {}
`
}

// TestFailureStrategyLevels checks that the nearest strategy wins: a step's own over
// its phase's, the phase's over the workflow's, the workflow's over the default
// rollback.
func TestFailureStrategyLevels(t *testing.T) {
	tests := []struct {
		name                  string
		workflow, phase, step string
		want                  store.Status
	}{
		{"default is rollback", "", "", "", store.StatusRolledBack},
		{"workflow level applies", "ignore", "", "", store.StatusSucceeded},
		{"phase overrides workflow", "ignore", "fail", "", store.StatusFailed},
		{"step overrides phase", "ignore", "fail", "pause", store.StatusPaused},
		{"step overrides workflow", "fail", "", "ignore", store.StatusSucceeded},
		{"phase level alone", "", "ignore", "", store.StatusSucceeded},
		{"phase rollback over workflow ignore", "ignore", "rollback", "", store.StatusRolledBack},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "canary unhealthy", http.StatusServiceUnavailable)
			}))
			defer srv.Close()
			h := newHarness(t)
			h.Apply(layeredYAML(srv.URL, tc.workflow, tc.phase, tc.step))
			ex := h.Start("layered", nil)
			var got store.Execution
			if tc.want == store.StatusPaused {
				got = h.WaitFor(ex.ID, store.StatusPaused)
			} else {
				got = h.Finish(ex.ID)
			}
			if got.Status != tc.want {
				t.Fatalf("%s (%s), want %s\n%s", got.Status, got.Reason, tc.want, h.Console(ex.ID))
			}
		})
	}
}

// TestCustomRollbackSteps checks that a workflow's own spec.rollback steps run, in
// order, instead of the built-in rollback, and that a failing one leaves the
// execution failed with a reason that asks for a person.
func TestCustomRollbackSteps(t *testing.T) {
	var mu sync.Mutex
	var hooks []string
	called := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(slices.Compact(slices.Clone(hooks)), ",")
	}
	var failCleanup atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hooks = append(hooks, r.URL.Path)
		mu.Unlock()
		switch {
		case r.URL.Path == "/check":
			http.Error(w, "canary unhealthy", http.StatusServiceUnavailable)
		case r.URL.Path == "/cleanup" && failCleanup.Load():
			http.Error(w, "cleanup broke", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	workflow := `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: custom}
spec:
  environment: test
  service: {name: custom, port: 8080, artifact: "custom:v1"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 25%
        - name: check
          webhook: {url: "` + srv.URL + `/check"}
        - promote: {}
  rollback:
    - name: announce
      webhook: {url: "` + srv.URL + `/announce"}
    - traffic: 0%
    - name: cleanup
      webhook: {url: "` + srv.URL + `/cleanup"}
`
	t.Run("steps run in order", func(t *testing.T) {
		mu.Lock()
		hooks = nil
		mu.Unlock()
		h := newHarness(t)
		h.Apply(workflow)
		ex := h.Start("custom", nil)
		got := h.Finish(ex.ID)
		if got.Status != store.StatusRolledBack || !strings.Contains(got.Reason, "canary unhealthy") {
			t.Fatalf("%s (%s), want rolled back saying why\n%s", got.Status, got.Reason, h.Console(ex.ID))
		}
		if g := called(); g != "/check,/announce,/cleanup" {
			t.Fatalf("webhooks called %s, want /check,/announce,/cleanup", g)
		}
		if w := h.weights("custom"); len(w) != 2 {
			t.Fatalf("weight writes %v, want the canary's and the rollback step's", w)
		}
		for _, want := range []string{"rollback step 1/3: announce", "rollback step 3/3: cleanup"} {
			if !strings.Contains(h.Console(ex.ID), want) {
				t.Errorf("console lacks %q", want)
			}
		}
	})
	t.Run("a failing step needs a person", func(t *testing.T) {
		mu.Lock()
		hooks = nil
		mu.Unlock()
		failCleanup.Store(true)
		h := newHarness(t)
		h.Apply(workflow)
		ex := h.Start("custom", nil)
		got := h.Finish(ex.ID)
		if got.Status != store.StatusFailed || !strings.Contains(got.Reason, "rollback step cleanup failed") {
			t.Fatalf("%s (%s), want failed naming the rollback step\n%s", got.Status, got.Reason, h.Console(ex.ID))
		}
	})
}
