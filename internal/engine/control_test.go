package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/engine/enginetest"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/traffic"
)

func platformRef(svc, slot string) platform.SlotRef {
	return platform.SlotRef{Service: svc, Slot: platform.Slot(slot)}
}

func decodeState(t *testing.T, ex store.Execution) engine.State {
	t.Helper()
	var st engine.State
	if err := json.Unmarshal(ex.State, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// slowCanary opens the workflow slow in test: its phase canary deploys slow:v2 and
// sends it 10% of traffic; the rest of the phase's steps (or more of the traffic
// step's fields) follow.
const slowCanary = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: slow}
spec:
  environment: test
  service: {name: slow, port: 8080, artifact: "slow:v2", instances: 2}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 100%}
        - traffic: 10%
`

// longWaitYAML holds the canary at 10% for a long wait.
const longWaitYAML = slowCanary + `        - name: soak
          wait: 1h
        - promote: {}
`

// liveGreen makes green the live slot of the slow service, as a past release would.
func liveGreen(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	must(t, h.Recorder.Deploy(ctx, platform.Deployment{Ref: platformRef("slow", "green"), Artifact: "slow:v1", Instances: 2, Key: "setup"}))
	c := &store.Commit{ExecutionID: "setup", Service: &store.ServiceState{Environment: "test", Service: "slow", LiveSlot: "green", Artifact: "slow:v1", Instances: 2, UpdatedAt: time.Now()}}
	// A service record needs no execution; commit it alone.
	c.ExecutionID = ""
	must(t, h.Store.Commit(ctx, c))
}

func waitStep(t *testing.T, h *harness, id, key string) {
	t.Helper()
	running := func() bool {
		st := decodeState(t, h.Get(id))
		return st.Phase < len(st.Phases) && st.Phases[st.Phase].Steps[st.Step].Key == key && st.Phases[st.Phase].Steps[st.Step].Status == store.StatusRunning
	}
	if !h.Within(5*time.Second, running) {
		t.Fatalf("step %s never ran\n%s", key, h.Console(id))
	}
}

func TestRollbackOnRequestInterruptsAWait(t *testing.T) {
	h := newHarness(t)
	h.Apply(longWaitYAML)
	liveGreen(t, h)
	ex := h.Start("slow", nil)
	waitStep(t, h, ex.ID, "p1.s3")
	start := time.Now()
	must(t, h.Engine.Rollback(context.Background(), ex.ID, "alice", "error rate up"))
	got := h.Finish(ex.ID)
	if got.Status != store.StatusRolledBack || !strings.Contains(got.Reason, "rollback requested by alice: error rate up") {
		t.Fatalf("%s (%s)", got.Status, got.Reason)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("rollback took %s", took)
	}
	want := []string{"green=90 blue=10", "green=100 blue=0"}
	if w := h.weights("slow"); !slices.Equal(w, want) {
		t.Fatalf("weights %v, want %v", w, want)
	}
	st := decodeState(t, got)
	if s := st.Phases[0].Steps[2].Status; s != store.StatusAborted {
		t.Fatalf("interrupted step is %s, want aborted", s)
	}
	if s := st.Phases[0].Status; s != store.StatusRolledBack { // a person ended it; nothing in it failed
		t.Fatalf("phase of a manual rollback is %s, want rolled_back", s)
	}
	wantErr(t, h.Engine.Rollback(context.Background(), ex.ID, "alice", "again"), engine.ErrInvalidState)
}

func TestAbortLeavesTrafficAsItIs(t *testing.T) {
	h := newHarness(t)
	h.Apply(longWaitYAML)
	liveGreen(t, h)
	ex := h.Start("slow", nil)
	waitStep(t, h, ex.ID, "p1.s3")
	must(t, h.Engine.Abort(context.Background(), ex.ID, "alice", "wrong build"))
	got := h.Finish(ex.ID)
	if got.Status != store.StatusAborted {
		t.Fatalf("%s", got.Status)
	}
	if w := h.weights("slow"); !slices.Equal(w, []string{"green=90 blue=10"}) {
		t.Fatalf("weights %v, want only the canary split", w)
	}
	if !strings.Contains(h.Console(ex.ID), "traffic is left as it is: green=90 blue=10") {
		t.Fatalf("console does not say where traffic is:\n%s", h.Console(ex.ID))
	}
}

func TestPauseResumeDuringWait(t *testing.T) {
	h, clk := newClockHarness(t)
	h.Apply(longWaitYAML)
	liveGreen(t, h)
	ex := h.Start("slow", nil)
	clk.WaitForTimer(t, time.Hour) // the soak waits
	must(t, h.Engine.Pause(context.Background(), ex.ID, "alice"))
	h.WaitFor(ex.ID, store.StatusPaused)
	clk.Advance(2 * time.Hour) // the soak's end passes while paused
	// The run answers this after the advance, so by then it has seen the time pass.
	wantErr(t, h.Engine.Retry(context.Background(), ex.ID, "alice"), engine.ErrInvalidState)
	if ex, _ := h.Store.GetExecution(context.Background(), ex.ID); ex.Status != store.StatusPaused {
		t.Fatalf("paused execution moved on to %s", ex.Status)
	}
	must(t, h.Engine.Resume(context.Background(), ex.ID, "alice"))
	if got := h.Finish(ex.ID); got.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)", got.Status, got.Reason)
	}
}

func TestRollbackRetriesAFailingRouter(t *testing.T) {
	h := newHarness(t)
	h.Apply(longWaitYAML)
	liveGreen(t, h)
	ex := h.Start("slow", nil)
	waitStep(t, h, ex.ID, "p1.s3")
	// Each rollback attempt tries the write three times: two attempts fail whole, the
	// third succeeds at its second try.
	h.Recorder.FailWeightWrites(7)
	must(t, h.Engine.Rollback(context.Background(), ex.ID, "alice", "bad"))
	got := h.Finish(ex.ID)
	if got.Status != store.StatusRolledBack {
		t.Fatalf("%s (%s)", got.Status, got.Reason)
	}
	console := h.Console(ex.ID)
	if n := strings.Count(console, "NEEDS ATTENTION"); n != 2 {
		t.Fatalf("console reports %d failed rollback attempts, want 2:\n%s", n, console)
	}
	if n := strings.Count(console, "trying again"); n != 5 {
		t.Fatalf("console reports %d retried router writes, want 5:\n%s", n, console)
	}
	for _, w := range h.weights("slow") {
		if strings.HasPrefix(w, "green=0 ") {
			t.Fatalf("live slot green was set to 0: %v", h.weights("slow"))
		}
	}
	if w := h.weights("slow"); w[len(w)-1] != "green=100 blue=0" {
		t.Fatalf("final weights %v", w)
	}
}

func TestRollbackNeverClaimsSuccessWhileRouterFails(t *testing.T) {
	h := newHarness(t)
	h.Apply(longWaitYAML)
	liveGreen(t, h)
	ex := h.Start("slow", nil)
	waitStep(t, h, ex.ID, "p1.s3")
	h.Recorder.FailWeightWrites(1 << 30)
	must(t, h.Engine.Rollback(context.Background(), ex.ID, "alice", "bad"))
	// wait until the rollback says it needs a person; it must never claim success
	h.Await("the rollback needs a person", time.Minute, func() bool {
		got := h.Get(ex.ID)
		st := decodeState(t, got)
		if got.Status.Terminal() {
			t.Fatalf("%s while every router write fails: want rolling_back needing attention", got.Status)
		}
		return got.Status == store.StatusRollingBack && st.Rollback != nil && strings.Contains(st.Rollback.NeedsPerson, "router write failing")
	})
	wantErr(t, h.Engine.Rollback(context.Background(), ex.ID, "bob", "again"), engine.ErrInvalidState)
	wantErr(t, h.Engine.Pause(context.Background(), ex.ID, "bob"), engine.ErrInvalidState)
	h.Recorder.FailWeightWrites(0)
	if got := h.Finish(ex.ID); got.Status != store.StatusRolledBack {
		t.Fatalf("%s once the router recovers", got.Status)
	}
}

func TestOneExecutionPerService(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) { oneExecutionPerService(t, newHarnessOn(t, kind)) })
	}
}

func oneExecutionPerService(t *testing.T, h *harness) {
	h.Apply(longWaitYAML)
	ex := h.Start("slow", nil)
	_, err := h.Engine.Start(context.Background(), engine.StartRequest{Workflow: "slow"})
	var busy *store.BusyError
	if !errors.As(err, &busy) || busy.Holder != ex.ID {
		t.Fatalf("second start: %v, want busy naming %s", err, ex.ID)
	}
	must(t, h.Engine.Abort(context.Background(), ex.ID, "t", ""))
	h.Finish(ex.ID)
	ex2 := h.Start("slow", nil)
	must(t, h.Engine.Abort(context.Background(), ex2.ID, "t", ""))
	h.Finish(ex2.ID)
}

func TestResumeAfterRestart(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) { resumeAfterRestart(t, newHarnessOn(t, kind)) })
	}
}

func resumeAfterRestart(t *testing.T, h *harness) {
	h.Apply(canaryYAML)
	ex := h.Start("shop", map[string]string{"artifact": "shop:v1"})
	h.WaitFor(ex.ID, store.StatusWaiting)
	h.Engine.Close() // the server stops while the approval waits

	h.Restart()
	n, err := h.Engine.Recover(context.Background())
	must(t, err)
	if n != 1 {
		t.Fatalf("recovered %d executions, want 1", n)
	}
	h.WaitFor(ex.ID, store.StatusWaiting)
	must(t, h.decide(ex.ID, "alice", true))
	if got := h.Finish(ex.ID); got.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)", got.Status, got.Reason)
	}
	if d := h.duplicateEffects(); len(d) > 0 {
		t.Fatalf("effects applied twice: %v", d)
	}
}

func TestStartRejectsBadVariables(t *testing.T) {
	h := newHarness(t)
	h.Apply(canaryYAML)
	_, err := h.Engine.Start(context.Background(), engine.StartRequest{Workflow: "shop", Variables: map[string]string{"artifact": "x", "pct": "150"}})
	if err == nil || !strings.Contains(err.Error(), "pct") {
		t.Fatalf("start with pct=150: %v", err)
	}
	_, err = h.Engine.Start(context.Background(), engine.StartRequest{Workflow: "nope"})
	wantErr(t, err, store.ErrNotFound)
	list, _ := h.Store.ListExecutions(context.Background(), store.ExecutionFilter{})
	if len(list) != 0 {
		t.Fatalf("rejected starts stored %d executions", len(list))
	}
}

// slowRouter makes the first n weight writes hang until the caller gives up.
type slowRouter struct {
	traffic.Router
	n atomic.Int32
}

func (s *slowRouter) SetWeights(ctx context.Context, svc traffic.ServiceRef, w traffic.Weights, key string) error {
	if s.n.Add(-1) >= 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	return s.Router.SetWeights(ctx, svc, w, key)
}

func TestARouterThatHangsTimesOut(t *testing.T) {
	h := newHarness(t)
	slow := &slowRouter{Router: h.Recorder}
	slow.n.Store(3) // every try of the canary's write
	h.Options.Resolver = enginetest.Resolver{Runtime: engine.Runtime{Platform: h.Recorder, Router: slow}}
	h.Options.CallTimeout = 50 * time.Millisecond
	h.Restart()
	h.Apply(longWaitYAML)
	liveGreen(t, h)
	ex := h.Start("slow", nil)
	got := h.Finish(ex.ID)
	if got.Status != store.StatusRolledBack || !strings.Contains(got.Reason, "no answer within 50ms") {
		t.Fatalf("%s (%s), want rolled back saying the router did not answer", got.Status, got.Reason)
	}
	if w := h.weights("slow"); len(w) != 1 || w[0] != "green=100 blue=0" {
		t.Fatalf("weights %v, want only the rollback's", w)
	}
}

// routeLog records every route a router is asked to set up.
type routeLog struct {
	traffic.Router
	mu     sync.Mutex
	routes []traffic.Route
}

func (l *routeLog) Ensure(ctx context.Context, rt traffic.Route) error {
	l.mu.Lock()
	l.routes = append(l.routes, rt)
	l.mu.Unlock()
	return l.Router.Ensure(ctx, rt)
}

func TestRollbackRemovesABRules(t *testing.T) {
	h := newHarness(t)
	log := &routeLog{Router: h.Recorder}
	h.Options.Resolver = enginetest.Resolver{Runtime: engine.Runtime{Platform: h.Recorder, Router: log}}
	h.Restart()
	h.Apply(strings.Replace(canaryYAML, "- service: {hosts: [shop.example.com]}",
		"- service: {hosts: [shop.example.com], routing: {match: [{header: X-Canary, value: \"true\"}]}}", 1))
	ex := h.Start("shop", map[string]string{"artifact": "shop:v1"})
	h.WaitFor(ex.ID, store.StatusWaiting)
	must(t, h.decide(ex.ID, "alice", false))
	if got := h.Finish(ex.ID); got.Status != store.StatusRolledBack {
		t.Fatalf("%s", got.Status)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.routes) != 2 || len(log.routes[0].Match) != 1 || log.routes[0].MatchSlot != platform.Green || len(log.routes[1].Match) != 0 {
		t.Fatalf("routes %+v: want the A/B rule to green, then the same route without it on rollback", log.routes)
	}
}

// flakyResolver fails its first n resolutions, as a platform API that is not up yet.
type flakyResolver struct {
	engine.Resolver
	n atomic.Int32
}

func (f *flakyResolver) Resolve(ctx context.Context, name string, env *spec.Environment) (engine.Runtime, error) {
	if f.n.Add(-1) >= 0 {
		return engine.Runtime{}, errors.New("platform API unreachable")
	}
	return f.Resolver.Resolve(ctx, name, env)
}

func TestResumeWaitsForAnUnreachablePlatform(t *testing.T) {
	h := newHarness(t)
	h.Apply(canaryYAML)
	ex := h.Start("shop", map[string]string{"artifact": "shop:v1"})
	h.WaitFor(ex.ID, store.StatusWaiting)
	flaky := &flakyResolver{Resolver: enginetest.Resolver{Runtime: engine.Runtime{Platform: h.Recorder, Router: h.Recorder}}}
	flaky.n.Store(2)
	h.Options.Resolver = flaky
	h.Restart()
	_, err := h.Engine.Recover(context.Background())
	must(t, err)
	h.WaitFor(ex.ID, store.StatusWaiting)
	deadline := time.Now().Add(5 * time.Second)
	for h.decide(ex.ID, "alice", true) != nil { // the run answers once it has loaded
		if time.Now().After(deadline) {
			t.Fatal("the resumed execution never took the approval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := h.Finish(ex.ID); got.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s): a platform that was briefly unreachable failed the execution", got.Status, got.Reason)
	}
}
