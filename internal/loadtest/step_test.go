package loadtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/engine/enginetest"
	"github.com/sluicehq/sluice/internal/loadtest"
	"github.com/sluicehq/sluice/internal/platform"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
)

// instances is a TargetSource whose every slot is served by the same httptest servers.
type instances struct {
	mu    sync.Mutex
	addrs []string
	asked []platform.SlotRef
	hits  []*atomic.Int64
}

func newInstances(t *testing.T, n int, h http.HandlerFunc) *instances {
	t.Helper()
	in := &instances{}
	for range n {
		hits := &atomic.Int64{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			if h != nil {
				h(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		in.addrs = append(in.addrs, strings.TrimPrefix(srv.URL, "http://"))
		in.hits = append(in.hits, hits)
	}
	return in
}

func (in *instances) Endpoints(ctx context.Context, env string, ref platform.SlotRef) ([]string, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.asked = append(in.asked, ref)
	return in.addrs, nil
}

func (in *instances) total() int64 {
	var n int64
	for _, h := range in.hits {
		n += h.Load()
	}
	return n
}

// harness is the shared engine harness with the loadtest step sending load to real
// HTTP servers.
type harness struct {
	*enginetest.Harness
	in      *instances
	opts    []loadtest.Option
	wrap    func(engine.StepRunner) engine.StepRunner // nil: the runner as it is
	targets loadtest.TargetSource                     // nil: in
}

func newHarness(t *testing.T, in *instances, opts ...loadtest.Option) *harness {
	t.Helper()
	h := &harness{in: in, opts: opts}
	h.Harness = enginetest.New(t, engine.Options{})
	h.start()
	return h
}

// start (re)creates the engine with the current runner, as a restart would.
func (h *harness) start() {
	var targets loadtest.TargetSource = h.in
	if h.targets != nil {
		targets = h.targets
	}
	runner := loadtest.NewStep(targets, h.opts...)
	if h.wrap != nil {
		runner = h.wrap(runner)
	}
	h.Options.Steps = map[spec.StepType]engine.StepRunner{spec.StepLoadTest: runner}
	h.Restart()
}

func (h *harness) run(workflow string) string {
	h.T.Helper()
	return h.Start(workflow, nil).ID
}

// reports returns the loadtest reports journaled for the execution, in order.
func (h *harness) reports(id string) []loadtest.Report {
	h.T.Helper()
	var out []loadtest.Report
	for _, raw := range h.Records(id, loadtest.RecordKind) {
		var r loadtest.Report
		must(h.T, json.Unmarshal(raw, &r))
		out = append(out, r)
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// workflow returns a workflow that deploys the new slot and runs one loadtest step.
func workflow(name, loadtestFlow string) string {
	return fmt.Sprintf(`apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: %s}
spec:
  environment: test
  service: {name: shop, port: 8080, artifact: "shop:v2"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 2}
        - traffic: 10%%
        - loadtest: %s
`, name, loadtestFlow)
}

func TestStepPassesAndRecordsItsMeasurements(t *testing.T) {
	in := newInstances(t, 2, nil)
	h := newHarness(t, in, loadtest.WithInterval(200*time.Millisecond))
	h.Apply(workflow("ok", "{rate: 100, duration: 1s, maxErrorRate: 1, maxP99: 1s}"))
	id := h.run("ok")
	ex := h.Finish(id)
	if ex.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)\n%s", ex.Status, ex.Reason, h.Console(id))
	}
	rs := h.reports(id)
	if len(rs) < 2 {
		t.Fatalf("%d reports, want progress and a final one\n%s", len(rs), h.Console(id))
	}
	final := rs[len(rs)-1]
	if !final.Final || !final.Passed || final.Requests != 100 || final.Successes != 100 || final.Run != 1 || final.Target != "new" {
		t.Fatalf("final report %+v", final)
	}
	for _, r := range rs[:len(rs)-1] {
		if r.Final || r.Requests > final.Requests {
			t.Fatalf("progress report %+v after or beyond the final one", r)
		}
	}
	if got := in.asked; len(got) != 1 || got[0].Service != "shop" || string(got[0].Slot) != final.Slot {
		t.Fatalf("asked for endpoints of %v, loaded %s", got, final.Slot)
	}
	for i, hits := range in.hits {
		if hits.Load() != 50 {
			t.Errorf("instance %d got %d requests, want 50 of 100 (round robin)", i, hits.Load())
		}
	}
	if c := h.Console(id); !strings.Contains(c, "loadtest "+final.Slot+": 100 req in 1s") {
		t.Errorf("console has no summary line:\n%s", c)
	}
}

func TestStepFailsWhenALimitIsBroken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		step    string
		opts    []loadtest.Option
		want    []string
	}{
		{
			name:    "error rate",
			handler: everyNth(5, func(w http.ResponseWriter) { w.WriteHeader(500) }),
			step:    "{rate: 100, duration: 500ms, maxErrorRate: 5}",
			want:    []string{"error rate ", "requests: 5xx ", ") is above maxErrorRate 5.0%"},
		},
		{
			name:    "any error when no error rate is allowed",
			handler: everyNth(25, func(w http.ResponseWriter) { w.WriteHeader(404) }),
			step:    "{rate: 100, duration: 500ms}",
			want:    []string{"stopped early after ", "(1 of ", "requests: 4xx 1) is above maxErrorRate 0.0% (no error is allowed)"},
		},
		{
			name:    "p99",
			handler: func(http.ResponseWriter, *http.Request) { time.Sleep(30 * time.Millisecond) },
			step:    "{rate: 50, duration: 400ms, maxErrorRate: 10, maxP99: 10ms}",
			want:    []string{"p99 ", "is above maxP99 10ms"},
		},
		{
			name:    "timeouts count as errors",
			handler: func(http.ResponseWriter, *http.Request) { time.Sleep(300 * time.Millisecond) },
			step:    "{rate: 20, duration: 500ms, maxErrorRate: 50}",
			opts:    []loadtest.Option{loadtest.WithTimeout(50 * time.Millisecond)},
			want:    []string{"error rate 100.0% (10 of 10 requests: timeout 10)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newInstances(t, 2, tc.handler), tc.opts...)
			h.Apply(workflow("bad", tc.step))
			id := h.run("bad")
			ex := h.Finish(id)
			if ex.Status != store.StatusRolledBack {
				t.Fatalf("%s (%s), want rolled back\n%s", ex.Status, ex.Reason, h.Console(id))
			}
			rs := h.reports(id)
			final := rs[len(rs)-1]
			for _, w := range tc.want {
				if !strings.Contains(ex.Reason, w) || !strings.Contains(final.Reason, w) {
					t.Errorf("reason %q (recorded %q) does not say %q", ex.Reason, final.Reason, w)
				}
			}
			if !final.Final || final.Passed {
				t.Errorf("final report %+v", final)
			}
		})
	}
}

// everyNth answers every nth request with bad, the others with 200.
func everyNth(n int64, bad func(http.ResponseWriter)) http.HandlerFunc {
	var count atomic.Int64
	return func(w http.ResponseWriter, _ *http.Request) {
		if count.Add(1)%n == 0 {
			bad(w)
		}
	}
}

func TestStepWithoutInstancesFails(t *testing.T) {
	for _, tc := range []struct {
		name    string
		targets loadtest.TargetFunc
		want    string
	}{
		{"no ready instance", func(context.Context, string, platform.SlotRef) ([]string, error) { return nil, nil }, "loadtest green: no ready instance of shop-green"},
		{"platform error", func(context.Context, string, platform.SlotRef) ([]string, error) {
			return nil, errors.New("platform unreachable")
		},
			"loadtest green: endpoints: platform unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.targets = tc.targets
			h.start()
			h.Apply(workflow("none", "{duration: 1s}"))
			id := h.run("none")
			if ex := h.Finish(id); ex.Status != store.StatusRolledBack || !strings.Contains(ex.Reason, tc.want) {
				t.Fatalf("%s (%s), want rolled back saying %q", ex.Status, ex.Reason, tc.want)
			}
		})
	}
}

func TestStepLoadsTheLiveSlot(t *testing.T) {
	in := newInstances(t, 1, nil)
	h := newHarness(t, in)
	h.Apply(`apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: release}
spec:
  environment: test
  service: {name: shop, port: 8080, artifact: "shop:v1"}
  phases:
    - name: all
      steps:
        - deploy: {instances: 1}
        - traffic: 100%
        - promote: {}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: live}
spec:
  environment: test
  service: {name: shop, port: 8080, artifact: "shop:v2"}
  phases:
    - name: baseline
      steps:
        - loadtest: {target: live, rate: 50, duration: 200ms}
`)
	first := h.run("live")
	if ex := h.Finish(first); ex.Status != store.StatusRolledBack || !strings.Contains(ex.Reason, "no live slot") {
		t.Fatalf("before any release: %s (%s)", ex.Status, ex.Reason)
	}
	release := h.run("release")
	if ex := h.Finish(release); ex.Status != store.StatusSucceeded {
		t.Fatalf("release: %s (%s)", ex.Status, ex.Reason)
	}
	id := h.run("live")
	if ex := h.Finish(id); ex.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)\n%s", ex.Status, ex.Reason, h.Console(id))
	}
	rs := h.reports(id)
	final := rs[len(rs)-1]
	if final.Target != "live" || final.Requests != 10 || len(in.asked) != 1 || string(in.asked[0].Slot) != final.Slot {
		t.Fatalf("final %+v, asked %v", final, in.asked)
	}
}

func TestStepStopsAtOnceOnRollback(t *testing.T) {
	in := newInstances(t, 2, nil)
	h := newHarness(t, in, loadtest.WithInterval(100*time.Millisecond))
	h.Apply(workflow("long", "{rate: 100, duration: 1m}"))
	id := h.run("long")
	for deadline := time.Now().Add(10 * time.Second); in.total() < 20; {
		if time.Now().After(deadline) {
			t.Fatalf("no load arrived\n%s", h.Console(id))
		}
		time.Sleep(5 * time.Millisecond)
	}
	must(t, h.Engine.Rollback(context.Background(), id, "alice", "enough"))
	if ex := h.Finish(id); ex.Status != store.StatusRolledBack || !strings.Contains(ex.Reason, "alice") {
		t.Fatalf("%s (%s)", ex.Status, ex.Reason)
	}
	n := in.total()
	time.Sleep(200 * time.Millisecond)
	if after := in.total(); after != n {
		t.Fatalf("%d requests arrived after the rollback finished", after-n)
	}
	for _, r := range h.reports(id) {
		if r.Final {
			t.Fatalf("an interrupted load test recorded a final report %+v", r)
		}
	}
}

// TestStepRunsTheWholeLoadAgainAfterARestart stops the engine in the middle of a load
// test and starts a new one on the same store: the load runs again in full as run 2,
// and the verdict rests on that run alone.
func TestStepRunsTheWholeLoadAgainAfterARestart(t *testing.T) {
	in := newInstances(t, 1, nil)
	h := newHarness(t, in, loadtest.WithInterval(100*time.Millisecond))
	h.Apply(workflow("restart", "{rate: 50, duration: 1s}"))
	id := h.run("restart")
	for deadline := time.Now().Add(10 * time.Second); len(h.reports(id)) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no progress recorded\n%s", h.Console(id))
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.start()
	_, err := h.Engine.Recover(context.Background())
	must(t, err)
	if ex := h.Finish(id); ex.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)\n%s", ex.Status, ex.Reason, h.Console(id))
	}
	rs := h.reports(id)
	final := rs[len(rs)-1]
	if rs[0].Run != 1 || final.Run != 2 || !final.Final || final.Requests != 50 {
		t.Fatalf("first %+v, final %+v", rs[0], final)
	}
	if !strings.Contains(h.Console(id), "a restart cut run 1 off") {
		t.Errorf("console does not say the load runs again:\n%s", h.Console(id))
	}
}

// crashAfterRun runs the step, then stands for a process that dies before the engine
// records the step's end: the final report is durable, the step's outcome is not.
type crashAfterRun struct {
	engine.StepRunner
	ran chan struct{}
}

func (c crashAfterRun) Run(ctx context.Context, sc *engine.StepContext) error {
	_ = c.StepRunner.Run(ctx, sc) // the verdict is in the final report; what is lost is the step's end
	close(c.ran)
	<-ctx.Done()
	return ctx.Err()
}

// TestStepKeepsARecordedVerdictAfterARestart restarts sluice after the final report
// was recorded but before the step finished: the verdict stands, no load is sent again.
func TestStepKeepsARecordedVerdictAfterARestart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		status  store.Status
	}{
		{"passed", nil, store.StatusSucceeded},
		{"failed", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(502) }, store.StatusRolledBack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := newInstances(t, 1, tc.handler)
			ran := make(chan struct{})
			h := newHarness(t, in)
			h.wrap = func(r engine.StepRunner) engine.StepRunner { return crashAfterRun{r, ran} }
			h.start()
			h.Apply(workflow("verdict", "{rate: 50, duration: 200ms}"))
			id := h.run("verdict")
			select {
			case <-ran:
			case <-time.After(10 * time.Second):
				t.Fatalf("the load test did not end\n%s", h.Console(id))
			}
			sent := in.total()
			h.wrap = nil
			h.start()
			_, err := h.Engine.Recover(context.Background())
			must(t, err)
			if ex := h.Finish(id); ex.Status != tc.status {
				t.Fatalf("%s (%s), want %s\n%s", ex.Status, ex.Reason, tc.status, h.Console(id))
			}
			if in.total() != sent {
				t.Fatalf("%d more requests sent after the restart", in.total()-sent)
			}
			finals := 0
			for _, r := range h.reports(id) {
				if r.Final {
					finals++
				}
			}
			if finals != 1 || !strings.Contains(h.Console(id), "already measured before the restart") {
				t.Fatalf("%d final reports\n%s", finals, h.Console(id))
			}
		})
	}
}

func TestJudge(t *testing.T) {
	base := loadtest.Report{Slot: "blue", Requests: 1000, Successes: 990, Errors: map[string]int64{"5xx": 6, "timeout": 4},
		ErrorRate: 0.01, Latency: loadtest.Latency{P99: 120}}
	for _, tc := range []struct {
		name   string
		report loadtest.Report
		limits loadtest.Limits
		want   string
	}{
		{"within limits", base, loadtest.Limits{MaxErrorRate: 0.01, MaxP99: 200 * time.Millisecond}, ""},
		{"no latency limit", base, loadtest.Limits{MaxErrorRate: 0.02}, ""},
		{"errors", base, loadtest.Limits{MaxErrorRate: 0.005}, "loadtest blue: error rate 1.0% (10 of 1,000 requests: 5xx 6, timeout 4) is above maxErrorRate 0.5%"},
		{"latency", base, loadtest.Limits{MaxErrorRate: 1, MaxP99: 100 * time.Millisecond}, "loadtest blue: p99 120ms is above maxP99 100ms"},
		{"both", base, loadtest.Limits{MaxP99: 100 * time.Millisecond}, "maxErrorRate 0.0%; p99 120ms is above maxP99 100ms"},
		{"nothing completed", loadtest.Report{Slot: "green", Elapsed: 2}, loadtest.Limits{MaxErrorRate: 1}, "loadtest green: no request completed in 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.report.Judge(tc.limits)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var le *loadtest.LimitError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a LimitError saying %q", err, tc.want)
			}
		})
	}
}

// TestStepStopsEarlyWhenTheErrorLimitIsBroken: a target failing 30% of requests
// against a 5% limit is stopped long before its 60 s, with a verdict naming the
// numbers; the step fails (rolled back) and the record says it stopped early.
func TestStepStopsEarlyWhenTheErrorLimitIsBroken(t *testing.T) {
	h := newHarness(t, newInstances(t, 2, everyNthOf(10, 3, func(w http.ResponseWriter) { w.WriteHeader(503) })))
	h.Apply(workflow("early", "{rate: 50, duration: 60s, maxErrorRate: 5}"))
	id := h.run("early")
	ex := h.Finish(id)
	if ex.Status != store.StatusRolledBack {
		t.Fatalf("%s (%s), want rolled back\n%s", ex.Status, ex.Reason, h.Console(id))
	}
	rs := h.reports(id)
	final := rs[len(rs)-1]
	if !final.Final || final.Passed || final.StoppedEarly == "" {
		t.Fatalf("final report %+v, want a failed one stopped early", final)
	}
	// At 50/s, 60 s is 3,000 requests; the test needs a few dozen.
	if final.Requests > 300 || h.in.total() > 400 {
		t.Fatalf("load ran on for %d requests (%d sent) after its limit was broken", final.Requests, h.in.total())
	}
	for _, w := range []string{"stopped early after ", "is above maxErrorRate 5.0%", "requests: 5xx ", "beyond chance"} {
		if !strings.Contains(ex.Reason, w) {
			t.Errorf("reason %q does not say %q", ex.Reason, w)
		}
	}
	t.Logf("%s", final.StoppedEarly)
}

// everyNthOf answers k of every n requests with bad, the others with 200.
func everyNthOf(n, k int64, bad func(http.ResponseWriter)) http.HandlerFunc {
	var count atomic.Int64
	return func(w http.ResponseWriter, _ *http.Request) {
		if count.Add(1)%n < k {
			bad(w)
		}
	}
}
