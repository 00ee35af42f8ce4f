package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// clock is the fixed time of every write in these tests.
var clock = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// spyCall is one call the API made to the engine.
type spyCall struct {
	Method   string
	ID       string
	By       string
	Reason   string
	Decision engine.Decision
	Start    engine.StartRequest
}

// engineSpy is a recording stand-in for the engine: it remembers every call and
// answers with err (or, for Start, with the execution in start).
type engineSpy struct {
	mu    sync.Mutex
	calls []spyCall
	err   error
	start store.Execution
}

func (s *engineSpy) record(c spyCall) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	return s.err
}

func (s *engineSpy) last() spyCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) == 0 {
		return spyCall{}
	}
	return s.calls[len(s.calls)-1]
}

func (s *engineSpy) Start(ctx context.Context, r engine.StartRequest) (store.Execution, error) {
	if err := s.record(spyCall{Method: "Start", Start: r}); err != nil {
		return store.Execution{}, err
	}
	return s.start, nil
}

func (s *engineSpy) Decide(ctx context.Context, id string, d engine.Decision) error {
	return s.record(spyCall{Method: "Decide", ID: id, By: d.By, Decision: d})
}

func (s *engineSpy) Rollback(ctx context.Context, id, by, reason string) error {
	return s.record(spyCall{Method: "Rollback", ID: id, By: by, Reason: reason})
}

func (s *engineSpy) Abort(ctx context.Context, id, by, reason string) error {
	return s.record(spyCall{Method: "Abort", ID: id, By: by, Reason: reason})
}

func (s *engineSpy) Pause(ctx context.Context, id, by string) error {
	return s.record(spyCall{Method: "Pause", ID: id, By: by})
}

func (s *engineSpy) Resume(ctx context.Context, id, by string) error {
	return s.record(spyCall{Method: "Resume", ID: id, By: by})
}

func (s *engineSpy) Retry(ctx context.Context, id, by string) error {
	return s.record(spyCall{Method: "Retry", ID: id, By: by})
}

var _ api.Engine = (*engineSpy)(nil)

// harness is the API over httptest with a real SQLite store and an engine spy.
type harness struct {
	t      *testing.T
	store  store.Store
	spy    *engineSpy
	broker *events.Broker
	srv    *httptest.Server
}

func newHarness(t *testing.T, mods ...func(*api.Deps)) *harness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	h := &harness{t: t, store: st, spy: &engineSpy{}}
	h.broker = events.New(st, events.WithPollInterval(0))
	d := api.Deps{Store: st, Engine: h.spy, Broker: h.broker,
		Now: func() time.Time { return clock }, Heartbeat: 20 * time.Millisecond, StatusPoll: 50 * time.Millisecond}
	h.serve(d, mods)
	return h
}

// serve starts the API of d, changed by mods, for the test, and closes it and the
// store at cleanup.
func (h *harness) serve(d api.Deps, mods []func(*api.Deps)) {
	for _, m := range mods {
		m(&d)
	}
	h.srv = httptest.NewServer(api.New(d))
	h.t.Cleanup(func() {
		h.srv.Close()
		_ = h.store.Close()
	})
}

// setHeaders sets the "Key: value" lines hdr on req; a Host line sets req.Host.
func setHeaders(req *http.Request, hdr []string) {
	for _, kv := range hdr {
		k, v, _ := strings.Cut(kv, ":")
		if strings.EqualFold(k, "Host") {
			req.Host = strings.TrimSpace(v)
			continue
		}
		req.Header.Set(k, strings.TrimSpace(v))
	}
}

// do sends one request as a sluice client does (with X-Sluice-Request); hdr is
// "Key: value" lines, and "X-Sluice-Request:" sends it empty, as if absent.
func (h *harness) do(method, path, body string, hdr ...string) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set(api.HeaderRequest, "1")
	setHeaders(req, hdr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// seed stores an execution with n console events.
func (h *harness) seed(id string, status store.Status, n int) store.Execution {
	h.t.Helper()
	ex := store.Execution{ID: id, Workflow: "checkout", WorkflowVersion: 1, Environment: "staging",
		EnvironmentVersion: 1, Service: "checkout-" + id, Variables: map[string]string{"version": "v2"},
		StartedBy: "alice", CreatedAt: clock, UpdatedAt: clock, Status: status,
		State: json.RawMessage(`{"phase":1,"step":0,"live":"green"}`)}
	c := &store.Commit{Execution: &ex, Create: true, Events: h.lines(id, 0, n)}
	if err := h.store.Commit(context.Background(), c); err != nil {
		h.t.Fatalf("seed %s: %v", id, err)
	}
	return *c.Execution
}

func (h *harness) lines(id string, from, n int) []store.Event {
	evs := make([]store.Event, n)
	for i := range evs {
		evs[i] = store.Event{ExecutionID: id, At: clock.Add(time.Duration(from+i) * time.Second), Type: "console",
			Step: "p1.s1", Level: "info", Message: fmt.Sprintf("line %d", from+i+1)}
	}
	return evs
}

// commit writes events (and a new status when non-empty) and publishes them, as the
// engine does.
func (h *harness) commit(ex *store.Execution, status store.Status, evs ...store.Event) {
	h.t.Helper()
	c := &store.Commit{ExecutionID: ex.ID, Events: evs}
	if status != "" {
		ex.Status, ex.UpdatedAt = status, clock
		c.Execution = ex
	}
	if err := h.store.Commit(context.Background(), c); err != nil {
		h.t.Fatalf("commit: %v", err)
	}
	h.broker.Publish(c.Events...)
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGolden walks one store through the API; each step's response is a golden file.
func TestGolden(t *testing.T) {
	h := newHarness(t)
	h.seed("ex-running", store.StatusRunning, 3)
	h.seed("ex-done", store.StatusSucceeded, 1)
	h.spy.start = store.Execution{ID: "ex-new", Workflow: "checkout", WorkflowVersion: 2, Environment: "staging",
		EnvironmentVersion: 1, Service: "checkout", Variables: map[string]string{"version": "v3"},
		StartedBy: "bob", CreatedAt: clock, UpdatedAt: clock, Status: store.StatusPending, Version: 1}
	all, changed := readFile(t, "apply-all.yaml"), readFile(t, "apply-changed.yaml")
	steps := []struct {
		name, method, path, body string
		hdr                      []string
	}{
		{"apply-dry-run", "POST", "/api/v1/apply?dryRun=true&file=all.yaml", all, nil},
		{"apply-created", "POST", "/api/v1/apply?file=all.yaml", all, []string{"X-Sluice-User: alice"}},
		{"apply-unchanged", "POST", "/api/v1/apply?file=all.yaml", all, nil},
		{"apply-configured", "POST", "/api/v1/apply?file=changed.yaml", changed, []string{"X-Sluice-User: bob"}},
		{"apply-invalid", "POST", "/api/v1/apply?file=bad.yaml", readFile(t, "apply-bad.yaml"), nil},
		{"apply-empty", "POST", "/api/v1/apply", "", nil},
		{"workflows-list", "GET", "/api/v1/workflows", "", nil},
		{"workflow-get", "GET", "/api/v1/workflows/checkout", "", nil},
		{"workflow-versions", "GET", "/api/v1/workflows/checkout/versions", "", nil},
		{"workflow-version-1", "GET", "/api/v1/workflows/checkout/versions/1", "", nil},
		{"workflow-version-9", "GET", "/api/v1/workflows/checkout/versions/9", "", nil},
		{"workflow-version-bad", "GET", "/api/v1/workflows/checkout/versions/x", "", nil},
		{"workflow-missing", "GET", "/api/v1/workflows/nope", "", nil},
		{"environments-list", "GET", "/api/v1/environments", "", nil},
		{"environment-delete", "DELETE", "/api/v1/environments/staging", "", []string{"X-Sluice-User: carol"}},
		{"environment-deleted", "GET", "/api/v1/environments/staging", "", nil},
		{"environment-history", "GET", "/api/v1/environments/staging/versions", "", nil},
		{"run", "POST", "/api/v1/workflows/checkout/run", `{"version":2,"variables":{"version":"v3","replicas":3,"dry":true}}`, []string{"X-Sluice-User: bob"}},
		{"run-bad-json", "POST", "/api/v1/workflows/checkout/run", `{"variables":{"version":"v3",}}`, nil},
		{"run-wrong-type", "POST", "/api/v1/workflows/checkout/run", `{"version":"two"}`, nil},
		{"run-unknown-field", "POST", "/api/v1/workflows/checkout/run", `{"vars":{}}`, nil},
		{"run-object-variable", "POST", "/api/v1/workflows/checkout/run", `{"variables":{"canary_percent":{"value":10}}}`, nil},
		{"executions-list", "GET", "/api/v1/executions", "", nil},
		{"executions-active", "GET", "/api/v1/executions?active=true&workflow=checkout", "", nil},
		{"executions-bad-status", "GET", "/api/v1/executions?status=sleeping", "", nil},
		{"executions-bad-limit", "GET", "/api/v1/executions?limit=-1", "", nil},
		{"execution-get", "GET", "/api/v1/executions/ex-running", "", nil},
		{"execution-missing", "GET", "/api/v1/executions/ex-nope", "", nil},
		{"events-page", "GET", "/api/v1/executions/ex-running/events?after=1&limit=1", "", nil},
		{"events-missing", "GET", "/api/v1/executions/ex-nope/events", "", nil},
		{"approve", "POST", "/api/v1/executions/ex-running/approve", `{"comment":"looks good"}`, []string{"X-Sluice-User: alice", "X-Sluice-Groups: sre, leads"}},
		{"services", "GET", "/api/v1/services?environment=staging", "", nil},
		{"healthz", "GET", "/healthz", "", nil},
		{"no-route", "GET", "/api/v1/nothing", "", nil},
		{"wrong-method", "PUT", "/api/v1/workflows", "", nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, body := h.do(s.method, s.path, s.body, s.hdr...)
			golden.Check(t, filepath.Join("testdata", s.name+".golden"), fmt.Appendf(nil, "HTTP %d\n%s", status, body))
		})
	}
}

// TestEngineErrors checks how each engine error becomes a status and a code.
func TestEngineErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
	}{
		{"not found", fmt.Errorf("engine: %w", store.ErrNotFound), http.StatusNotFound, api.CodeNotFound},
		{"busy", &store.BusyError{Environment: "staging", Service: "checkout", Holder: "ex-1"}, http.StatusConflict, api.CodeBusy},
		{"busy sentinel", fmt.Errorf("engine: %w", store.ErrBusy), http.StatusConflict, api.CodeBusy},
		{"conflict", &store.ConflictError{ID: "ex-1", Expected: 2, Actual: 3}, http.StatusConflict, api.CodeConflict},
		{"invalid state", fmt.Errorf("approve ex-1: not waiting: %w", engine.ErrInvalidState), http.StatusConflict, api.CodeInvalidState},
		{"forbidden", fmt.Errorf("approve ex-1: dave is not an approver: %w", engine.ErrForbidden), http.StatusForbidden, api.CodeForbidden},
		{"problems", fmt.Errorf("start: %w", spec.Problems{{Path: "variables.version", Message: "variable version is required"}}), http.StatusBadRequest, api.CodeInvalid},
		{"other", errors.New("disk on fire"), http.StatusInternalServerError, api.CodeInternal},
	}
	h := newHarness(t)
	for _, tt := range tests {
		for _, path := range []string{"/api/v1/workflows/checkout/run", "/api/v1/executions/ex-1/approve", "/api/v1/executions/ex-1/retry"} {
			t.Run(tt.name+path, func(t *testing.T) {
				h.spy.err = tt.err
				status, body := h.do("POST", path, "")
				var eb api.ErrorBody
				if err := json.Unmarshal(body, &eb); err != nil {
					t.Fatalf("body %s: %v", body, err)
				}
				if status != tt.wantStatus || eb.Error.Code != tt.wantCode {
					t.Fatalf("got %d %q, want %d %q: %s", status, eb.Error.Code, tt.wantStatus, tt.wantCode, body)
				}
				if tt.wantCode == api.CodeInvalid && (len(eb.Error.Problems) != 1 || eb.Error.Field != "variables.version") {
					t.Fatalf("problems not reported: %s", body)
				}
			})
		}
	}
}

// TestActionArguments checks what each execution action passes to the engine.
func TestActionArguments(t *testing.T) {
	tests := []struct {
		action, body string
		hdr          []string
		want         spyCall
	}{
		{"approve", `{"comment":"ship it"}`, []string{"X-Sluice-User: alice", "X-Sluice-Groups: sre,leads"},
			spyCall{Method: "Decide", ID: "ex-1", By: "alice", Decision: engine.Decision{Approve: true, By: "alice", Groups: []string{"sre", "leads"}, Comment: "ship it"}}},
		{"reject", `{"comment":"p99 too high"}`, []string{"X-Sluice-User: bob"},
			spyCall{Method: "Decide", ID: "ex-1", By: "bob", Decision: engine.Decision{By: "bob", Comment: "p99 too high"}}},
		{"rollback", `{"reason":"pager went off"}`, []string{"X-Sluice-User: carol"},
			spyCall{Method: "Rollback", ID: "ex-1", By: "carol", Reason: "pager went off"}},
		{"abort", ``, nil, spyCall{Method: "Abort", ID: "ex-1", By: "anonymous"}},
		{"pause", `{}`, []string{"X-Sluice-User: dave"}, spyCall{Method: "Pause", ID: "ex-1", By: "dave"}},
		{"resume", ``, []string{"X-Sluice-User: dave"}, spyCall{Method: "Resume", ID: "ex-1", By: "dave"}},
		{"retry", ``, []string{"X-Sluice-User: erin"}, spyCall{Method: "Retry", ID: "ex-1", By: "erin"}},
	}
	h := newHarness(t)
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			status, body := h.do("POST", "/api/v1/executions/ex-1/"+tt.action, tt.body, tt.hdr...)
			if status != http.StatusAccepted {
				t.Fatalf("status %d: %s", status, body)
			}
			if got := h.spy.last(); fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
				t.Fatalf("engine got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("run", func(t *testing.T) {
		h.do("POST", "/api/v1/workflows/checkout/run", `{"version":3,"variables":{"version":"v2","percent":10}}`, "X-Sluice-User: frank")
		want := engine.StartRequest{Workflow: "checkout", Version: 3, Variables: map[string]string{"version": "v2", "percent": "10"}, StartedBy: "frank"}
		if got := h.spy.last().Start; fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Fatalf("engine got %+v, want %+v", got, want)
		}
	})
}

func TestBodyTooLarge(t *testing.T) {
	h := newHarness(t)
	big := strings.Repeat("#", api.MaxBodyBytes+1)
	status, body := h.do("POST", "/api/v1/apply", big)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), api.CodeTooLarge) {
		t.Fatalf("got %d %s", status, body)
	}
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	ID, Event, Data string
}

// openStream connects to an execution's event stream.
func (h *harness) openStream(ctx context.Context, path string, hdr ...string) (<-chan sseEvent, *http.Response) {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	setHeaders(req, hdr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Data != "" || ev.Event != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[6:]
			}
		}
	}()
	return ch, resp
}

// expect reads the next events and checks their ids (or "end").
func expect(t *testing.T, ch <-chan sseEvent, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream closed, want %s", w)
			}
			got := ev.ID
			if ev.Event != "" {
				got = ev.Event
			}
			if got != w {
				t.Fatalf("got event %q (%+v), want %s", got, ev, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %s", w)
		}
	}
}

func TestEventStream(t *testing.T) {
	h := newHarness(t)
	ex := h.seed("ex-1", store.StatusRunning, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ch, resp := h.openStream(ctx, "/api/v1/executions/ex-1/events?after=1")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	expect(t, ch, "2", "3")
	h.commit(&ex, "", h.lines("ex-1", 3, 2)...)
	expect(t, ch, "4", "5")
	h.commit(&ex, store.StatusSucceeded, store.Event{ExecutionID: "ex-1", At: clock, Type: "status", Message: "succeeded"})
	expect(t, ch, "6", "end")
	if _, ok := <-ch; ok {
		t.Fatal("stream continued after end")
	}

	t.Run("resume with Last-Event-ID", func(t *testing.T) {
		ch, _ := h.openStream(ctx, "/api/v1/executions/ex-1/events?after=0", "Last-Event-ID: 4")
		expect(t, ch, "5", "6", "end")
	})
	t.Run("unknown execution", func(t *testing.T) {
		_, resp := h.openStream(ctx, "/api/v1/executions/nope/events")
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("server shutdown ends open streams", func(t *testing.T) {
		done := make(chan struct{})
		st := h.store
		srv := httptest.NewServer(api.New(api.Deps{Store: st, Engine: h.spy, Broker: h.broker, StreamsDone: done}))
		defer srv.Close()
		h.seed("ex-3", store.StatusRunning, 1)
		other := &harness{t: t, store: st, spy: h.spy, broker: h.broker, srv: srv}
		ch, _ := other.openStream(ctx, "/api/v1/executions/ex-3/events")
		expect(t, ch, "1")
		close(done)
		select {
		case ev, ok := <-ch:
			if ok {
				t.Fatalf("got %+v after shutdown", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("stream still open after shutdown")
		}
	})
	t.Run("end found by status poll", func(t *testing.T) {
		ex2 := h.seed("ex-2", store.StatusRunning, 1)
		ch, _ := h.openStream(ctx, "/api/v1/executions/ex-2/events")
		expect(t, ch, "1")
		ex2.Status = store.StatusRolledBack // written without publishing, e.g. by another server
		if err := h.store.Commit(ctx, &store.Commit{Execution: &ex2}); err != nil {
			t.Fatal(err)
		}
		expect(t, ch, "end")
	})
}
