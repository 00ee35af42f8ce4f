package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// stepsDefinitions are an environment with a generic HTTP/JSON provider and a
// workflow with one step of every type that runs on the recorder platform; url is
// the base URL of the test's own HTTP server (webhook and provider).
func stepsDefinitions(url string) string {
	return recorderEnvironment("prod", "effects.jsonl", probeProvider(url)) + "---\n" + shopCanary(
		`        - webhook: {url: "`+url+`/hook", body: canary}
`+verifyProbe+`        - wait: 30ms
        - approval: {approvers: [tester], message: "go on"}
`, `        - scaledown: {delay: 20ms}
`)
}

// stepsEffects are the platform and router effects of one release, in order.
var stepsEffects = []string{
	"ensure shop",
	"deploy shop blue shop:v2 x2",
	"weights shop green=90 blue=10",
	"weights shop green=0 blue=100",
	"scale shop green x0",
}

// crashBoundaries are the journal boundaries of the engine's CrashPoint hook.
var crashBoundaries = []string{"step.started", "effect.intent", "effect.applied", "effect.done", "step.finished"}

// stepsWorld is the test process's side of one release: the webhook's call count
// and the provider endpoint.
type stepsWorld struct {
	srv   *httptest.Server
	hooks atomic.Int64
}

func newStepsWorld(t *testing.T) *stepsWorld {
	t.Helper()
	w := &stepsWorld{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hook", func(rw http.ResponseWriter, _ *http.Request) {
		w.hooks.Add(1)
		rw.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /metric", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprint(rw, `{"value": 0.99}`)
	})
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	return w
}

// startRelease seeds a live green slot, starts a server that crashes at crashAt
// (none when empty), applies the definitions and starts the release.
func (w *stepsWorld) startRelease(t *testing.T, dir, crashAt string) *child {
	t.Helper()
	seedLiveGreen(t, dir)
	srv := startChild(t, dir, crashAt)
	ctx := context.Background()
	if _, err := srv.client.Apply(ctx, "steps.yaml", []byte(stepsDefinitions(w.srv.URL)), false); err != nil {
		t.Fatal(err)
	}
	// The server may die before it answers: the execution is durable once started,
	// so its ID is looked up later.
	srv.client.Run(ctx, "shop", 0, nil) //nolint:errcheck
	return srv
}

// drive approves the release whenever it waits, until it ends or, with untilKilled,
// until the server dies; it returns the execution's ID when it ended.
func drive(t *testing.T, c *child, untilKilled bool) string {
	t.Helper()
	ctx := context.Background()
	deadline := time.After(2 * time.Minute)
	last := "no execution"
	for {
		select {
		case err := <-c.exited:
			if !untilKilled {
				t.Fatalf("server exited: %v\n%s", err, c.stderr)
			}
			c.exited <- err // for waitKilled
			return ""
		case <-deadline:
			t.Fatalf("release neither ended nor crashed in 20s (last seen: %s)\n%s\n%s", last, console(c), c.stderr)
		case <-time.After(10 * time.Millisecond):
		}
		list, err := c.client.ListExecutions(ctx, client.ExecutionFilter{})
		if err != nil || len(list) == 0 {
			continue // not started yet, or the server is dying
		}
		ex := list[0]
		last = fmt.Sprintf("%s %s", ex.Status, ex.Reason)
		switch {
		case ex.Status == store.StatusWaiting:
			c.client.Approve(ctx, ex.ID, "crash test") //nolint:errcheck // a crash may interrupt it
		case ex.Status.Terminal() && !untilKilled:
			return ex.ID
		}
	}
}

// console returns the console of the newest execution, for failure messages.
func console(c *child) string {
	ctx := context.Background()
	list, err := c.client.ListExecutions(ctx, client.ExecutionFilter{})
	if err != nil || len(list) == 0 {
		return fmt.Sprintf("no console (%v)", err)
	}
	page, err := c.client.Events(ctx, list[0].ID, 0, 500)
	if err != nil {
		return fmt.Sprintf("no console (%v)", err)
	}
	var b strings.Builder
	for _, e := range page.Items {
		fmt.Fprintf(&b, "  %s\n", e.Message)
	}
	return b.String()
}

// countBoundaries runs one release without a crash and counts how often it passes
// each journal boundary, from the journal it wrote.
func countBoundaries(t *testing.T) map[string]int {
	t.Helper()
	dir := t.TempDir()
	w := newStepsWorld(t)
	srv := w.startRelease(t, dir, "")
	id := drive(t, srv, false)
	srv.cmd.Process.Kill()
	<-srv.exited
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	journal, err := st.Journal(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range journal {
		n[e.Kind]++
	}
	n["effect.applied"] = n["effect.done"] // the hook between the call and its entry
	for _, b := range crashBoundaries {
		if n[b] == 0 {
			t.Fatalf("the release never passed %s (journal kinds %v)", b, n)
		}
	}
	if got := w.hooks.Load(); got != 1 {
		t.Fatalf("webhook called %d times without a crash, want 1", got)
	}
	return n
}

// TestSIGKILLAtEveryJournalBoundaryOfEveryStepType kills the server at every
// occurrence of every journal boundary of a release that uses every step type the
// recorder platform can run (service, deploy, traffic, webhook, verify, wait,
// approval, promote, scaledown), starts it again, and checks that the release
// succeeds with each platform and router effect applied exactly once and in order,
// the webhook called at least once (webhooks are at-least-once: an HTTP call to
// someone else's system cannot be made idempotent by sluice) and at most once more
// than without the crash, the approval recorded once, and blue live.
func TestSIGKILLAtEveryJournalBoundaryOfEveryStepType(t *testing.T) {
	if testing.Short() {
		t.Skip("starts about 80 server processes")
	}
	counts := countBoundaries(t)
	var points []string
	for _, b := range crashBoundaries {
		for i := 1; i <= counts[b]; i++ {
			points = append(points, fmt.Sprintf("%s:%d", b, i))
		}
	}
	t.Logf("%d crash points: %v", len(points), counts)
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			crashAndCheck(t, point)
		})
	}
}

func crashAndCheck(t *testing.T, point string) {
	dir := t.TempDir()
	w := newStepsWorld(t)
	srv := w.startRelease(t, dir, point)
	drive(t, srv, true)
	srv.waitKilled(t)

	srv = startChild(t, dir, "")
	id := drive(t, srv, false)
	ex, err := srv.client.GetExecution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != store.StatusSucceeded {
		t.Fatalf("after a crash at %s the execution is %s (%s)\n%s", point, ex.Status, ex.Reason, srv.stderr)
	}
	checkEffects(t, dir, point, stepsEffects)
	switch n := w.hooks.Load(); {
	case n < 1 || n > 2:
		t.Errorf("webhook called %d times, want 1 or 2 (at least once, repeated at most once by one crash)", n)
	case n == 2:
		t.Logf("webhook called twice: the crash came between its call and its step's journal entry")
	}
	var st engine.State
	if err := json.Unmarshal(ex.State, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Approvals) != 1 || !st.Approvals[0].Approve || st.Approvals[0].By != "tester" {
		t.Errorf("approvals %+v, want one approval by tester", st.Approvals)
	}
	for _, p := range st.Phases {
		for _, s := range p.Steps {
			if s.Status != store.StatusSucceeded {
				t.Errorf("step %s (%s) is %s", s.Name, s.Type, s.Status)
			}
		}
	}
	checkBlueLive(t, srv)
}

// checkBlueLive asserts the server knows one service, prod's shop, with blue live.
func checkBlueLive(t *testing.T, srv *child) {
	t.Helper()
	svcs, err := srv.client.Services(context.Background(), "prod")
	if err != nil || len(svcs) != 1 || svcs[0].LiveSlot != "blue" {
		t.Fatalf("services %+v, %v: want blue live", svcs, err)
	}
}

// checkEffects asserts the recorder saw every effect in want once, in order.
func checkEffects(t *testing.T, dir, point string, want []string) {
	t.Helper()
	effects, err := recorder.ReadEffects(filepath.Join(dir, "effects.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var applied []string
	keys := map[string]bool{}
	for _, e := range effects[1:] { // after the seed
		if keys[e.Key] {
			t.Errorf("effect %s applied twice", e.Key)
		}
		keys[e.Key] = true
		applied = append(applied, describe(e))
	}
	if !slices.Equal(applied, want) {
		t.Fatalf("effects after a crash at %s:\n  %s\nwant:\n  %s", point, strings.Join(applied, "\n  "), strings.Join(want, "\n  "))
	}
}
