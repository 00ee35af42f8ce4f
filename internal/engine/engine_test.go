package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/store"
)

func TestReleaseThenCanaryRejected(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) { releaseThenCanaryRejected(t, newHarnessOn(t, kind)) })
	}
}

func releaseThenCanaryRejected(t *testing.T, h *harness) {
	h.Apply(canaryYAML)

	// First release: nothing is live, so the new version goes to green and takes all
	// traffic; green is the live slot from then on.
	ex := h.Start("shop", map[string]string{"artifact": "shop:v1"})
	h.WaitFor(ex.ID, store.StatusWaiting)
	must(t, h.decide(ex.ID, "alice", true))
	if got := h.Finish(ex.ID); got.Status != store.StatusSucceeded {
		t.Fatalf("first release %s: %s\n%s", got.Status, got.Reason, h.Console(ex.ID))
	}
	svc, err := h.Store.GetService(context.Background(), "test", "shop")
	must(t, err)
	if svc.LiveSlot != "green" || svc.Instances != 3 {
		t.Fatalf("service after first release: %+v, want green live with 3 instances", svc)
	}

	// Second release, the seed's story: blue is staged at 100% of green's instances,
	// gets 10%, and a rejection sends everything back to green.
	ex2 := h.Start("shop", map[string]string{"artifact": "shop:v2"})
	h.WaitFor(ex2.ID, store.StatusWaiting)
	must(t, h.decide(ex2.ID, "bob", false, "sre"))
	got := h.Finish(ex2.ID)
	if got.Status != store.StatusRolledBack || !strings.Contains(got.Reason, "rejected") {
		t.Fatalf("second release: %s (%s), want rolled back on rejection", got.Status, got.Reason)
	}
	// First release: 10% becomes 100% (nothing else is live), 100%, promote.
	want := []string{"green=100 blue=0", "green=100 blue=0", "green=100 blue=0", "green=90 blue=10", "green=100 blue=0"}
	if w := h.weights("shop"); !slices.Equal(w, want) {
		t.Fatalf("weights written %v, want %v", w, want)
	}
	green, _ := h.Recorder.Status(context.Background(), platformRef("shop", "green"))
	blue, _ := h.Recorder.Status(context.Background(), platformRef("shop", "blue"))
	if blue.Desired != 0 || green.Desired != 3 {
		t.Fatalf("after rollback green=%+v blue=%+v, want blue scaled to 0 and green at 3", green, blue)
	}
	svc, _ = h.Store.GetService(context.Background(), "test", "shop")
	if svc.LiveSlot != "green" {
		t.Fatalf("live slot after rollback %q, want green", svc.LiveSlot)
	}
	if d := h.duplicateEffects(); len(d) > 0 {
		t.Fatalf("effects applied twice: %v", d)
	}
}

func TestApprovals(t *testing.T) {
	tests := []struct {
		name   string
		by     string
		groups []string
		want   error
	}{
		{"named user", "alice", nil, nil},
		{"member of a named group", "carol", []string{"dev", "sre"}, nil},
		{"not an approver", "mallory", []string{"dev"}, engine.ErrForbidden},
		{"nobody", "", nil, engine.ErrForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.Apply(canaryYAML)
			ex := h.Start("shop", map[string]string{"artifact": "shop:v1"})
			h.WaitFor(ex.ID, store.StatusWaiting)
			err := h.decide(ex.ID, tc.by, true, tc.groups...)
			if !errors.Is(err, tc.want) {
				t.Fatalf("decide: %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				must(t, h.Engine.Abort(context.Background(), ex.ID, "tester", "done"))
				h.Finish(ex.ID)
				return
			}
			got := h.Finish(ex.ID)
			st := decodeState(t, got)
			if got.Status != store.StatusSucceeded || len(st.Approvals) != 1 || st.Approvals[0].By != tc.by || st.Approvals[0].Comment != "looks good" {
				t.Fatalf("%s with approvals %+v", got.Status, st.Approvals)
			}
		})
	}
}

func TestApprovalTimeout(t *testing.T) {
	tests := []struct {
		action string
		want   store.Status
	}{
		{"rollback", store.StatusRolledBack},
		{"continue", store.StatusSucceeded},
		{"fail", store.StatusFailed},
	}
	for _, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			h, clk := newClockHarness(t)
			h.Apply(strings.Replace(canaryYAML, `approvers: [alice, "group:sre"]`, `approvers: [alice], timeout: 30m, onTimeout: `+tc.action, 1))
			ex := h.Start("shop", map[string]string{"artifact": "shop:v1"})
			advance(t, clk, 5*time.Millisecond, 30*time.Minute) // the wait, then no decision for half an hour
			got := h.Finish(ex.ID)
			if got.Status != tc.want {
				t.Fatalf("%s (%s), want %s\n%s", got.Status, got.Reason, tc.want, h.Console(ex.ID))
			}
			st := decodeState(t, got)
			if len(st.Approvals) != 1 || !st.Approvals[0].Timeout {
				t.Fatalf("approvals %+v, want one timeout record", st.Approvals)
			}
		})
	}
}

// webhookYAML calls a webhook in the canary phase under a given failure strategy.
func webhookYAML(url, onFailure string) string {
	return `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: hook}
spec:
  environment: test
  service: {name: hook, port: 8080, artifact: "hook:v1"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 100%
        - name: check
          webhook: {url: "` + url + `"}
          onFailure: ` + onFailure + `
        - promote: {}
`
}

func TestFailureStrategies(t *testing.T) {
	tests := []struct {
		name      string
		onFailure string
		failures  int32 // how many calls fail before the hook answers 200
		want      store.Status
		calls     int32
	}{
		{"rollback by default", "rollback", 99, store.StatusRolledBack, 1},
		{"retry until success", "{action: retry, retries: 3, backoff: 1ms}", 2, store.StatusSucceeded, 3},
		{"retries exhausted then rollback", "{action: retry, retries: 2, backoff: 1ms}", 99, store.StatusRolledBack, 3},
		{"retries exhausted then ignore", "{action: retry, retries: 1, backoff: 1ms, then: ignore}", 99, store.StatusSucceeded, 2},
		{"ignore", "ignore", 99, store.StatusSucceeded, 1},
		{"fail leaves traffic", "fail", 99, store.StatusFailed, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= tc.failures {
					http.Error(w, "canary unhealthy", http.StatusServiceUnavailable)
				}
			}))
			defer srv.Close()
			h := newHarness(t)
			h.Apply(webhookYAML(srv.URL, tc.onFailure))
			ex := h.Start("hook", nil)
			got := h.Finish(ex.ID)
			if got.Status != tc.want || calls.Load() != tc.calls {
				t.Fatalf("%s after %d calls (%s), want %s after %d\n%s", got.Status, calls.Load(), got.Reason, tc.want, tc.calls, h.Console(ex.ID))
			}
			if tc.want == store.StatusRolledBack && !strings.Contains(got.Reason, "webhook answered 503: canary unhealthy") {
				t.Fatalf("reason %q does not say why", got.Reason)
			}
		})
	}
}

func TestPauseOnFailureThenRetry(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	h := newHarness(t)
	h.Apply(webhookYAML(srv.URL, "pause"))
	ex := h.Start("hook", nil)
	paused := h.WaitFor(ex.ID, store.StatusPaused)
	if !strings.Contains(paused.Reason, "webhook answered 500") {
		t.Fatalf("paused with reason %q", paused.Reason)
	}
	wantErr(t, h.Engine.Decide(context.Background(), ex.ID, engine.Decision{Approve: true, By: "alice"}), engine.ErrInvalidState)
	healthy.Store(true)
	must(t, h.Engine.Retry(context.Background(), ex.ID, "alice"))
	if got := h.Finish(ex.ID); got.Status != store.StatusSucceeded {
		t.Fatalf("after retry: %s (%s)", got.Status, got.Reason)
	}
	st := decodeState(t, h.Finish(ex.ID))
	if a := st.Phases[0].Steps[2].Attempt; a != 2 {
		t.Fatalf("webhook step attempts %d, want 2", a)
	}
}

func TestUnavailableStepFailsClearly(t *testing.T) {
	h := newHarness(t)
	h.Apply(`apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: v}
spec:
  environment: test
  service: {name: v, port: 8080, artifact: "v:1"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 100%
        - loadtest: {duration: 1s}
`)
	ex := h.Start("v", nil)
	got := h.Finish(ex.ID)
	if got.Status != store.StatusRolledBack || !strings.Contains(got.Reason, "not available in this build") {
		t.Fatalf("%s (%s), want rolled back saying the step is not available", got.Status, got.Reason)
	}
}

func TestInstanceOutputReachesTheConsole(t *testing.T) {
	h := newHarness(t)
	h.Apply(canaryYAML)
	ex := h.Start("shop", map[string]string{"artifact": "shop:v1"})
	h.WaitFor(ex.ID, store.StatusWaiting)
	h.Engine.InstanceOutput("test", "shop", "blue", 0, "stdout", "listening on :8080")
	h.Engine.InstanceOutput("test", "other", "blue", 0, "stdout", "not ours")
	for i := range 300 {
		h.Engine.InstanceOutput("test", "shop", "blue", 1, "stderr", fmt.Sprintf("line %d", i))
	}
	h.Await("instance output reaches the console", 5*time.Second, func() bool {
		return strings.Contains(h.Console(ex.ID), "more lines of instance output not shown")
	})
	console := h.Console(ex.ID)
	if !strings.Contains(console, "blue/0: listening on :8080") || strings.Contains(console, "not ours") {
		t.Fatalf("console:\n%s", console)
	}
	must(t, h.decide(ex.ID, "alice", true))
	h.Finish(ex.ID)
}

func TestSelfApprovalCanBeForbidden(t *testing.T) {
	h := newHarness(t)
	h.Apply(strings.Replace(canaryYAML, `approvers: [alice, "group:sre"]`, `approvers: [tester, alice], required: 2, forbidSelfApproval: true`, 1))
	ex := h.Start("shop", map[string]string{"artifact": "shop:v1"}) // started by tester
	h.WaitFor(ex.ID, store.StatusWaiting)
	wantErr(t, h.decide(ex.ID, "tester", true), engine.ErrForbidden)
	must(t, h.decide(ex.ID, "alice", true))
	if got, _ := h.Store.GetExecution(context.Background(), ex.ID); got.Status != store.StatusWaiting {
		t.Fatalf("one approval of two needed: %s", got.Status)
	}
	wantErr(t, h.decide(ex.ID, "alice", true), engine.ErrInvalidState) // the same person twice
	must(t, h.decide(ex.ID, "tester", false))                          // rejecting one's own is allowed
	if got := h.Finish(ex.ID); got.Status != store.StatusRolledBack {
		t.Fatalf("%s after the starter rejected", got.Status)
	}
}

func TestSecretsNeverReachTheStore(t *testing.T) {
	const planted = "s3cr3t-planted-value"
	h := newHarness(t)
	h.Options.Redact = func(s string) string { return strings.ReplaceAll(s, planted, "[redacted]") }
	h.Restart()
	// A webhook whose URL carries the secret fails; its error names the URL.
	h.Apply(webhookYAML("http://127.0.0.1:1/hook?token="+planted, "rollback"))
	ex := h.Start("hook", nil)
	got := h.Finish(ex.ID)
	if got.Status != store.StatusRolledBack {
		t.Fatalf("%s", got.Status)
	}
	evs, err := h.Store.Events(context.Background(), ex.ID, 0, 0)
	must(t, err)
	journal, err := h.Store.Journal(context.Background(), ex.ID)
	must(t, err)
	var b strings.Builder
	fmt.Fprint(&b, got.Reason, string(got.State))
	for _, e := range evs {
		fmt.Fprint(&b, e.Message, string(e.Data))
	}
	for _, j := range journal {
		fmt.Fprint(&b, j.Key, string(j.Data))
	}
	stored := b.String()
	if strings.Contains(stored, planted) {
		t.Fatalf("the secret reached the store:\n%s", stored)
	}
	if !strings.Contains(got.Reason, "[redacted]") {
		t.Fatalf("reason %q: the failure should still be explained, masked", got.Reason)
	}
}
