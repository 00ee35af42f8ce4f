package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// engineSpy is a recording stand-in for the engine.
type engineSpy struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (s *engineSpy) record(format string, args ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, fmt.Sprintf(format, args...))
	return s.err
}

func (s *engineSpy) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[len(s.calls)-1]
}

func (s *engineSpy) Start(ctx context.Context, r engine.StartRequest) (store.Execution, error) {
	err := s.record("start %s v%d %v by %s", r.Workflow, r.Version, r.Variables, r.StartedBy)
	return store.Execution{ID: "ex-9", Workflow: r.Workflow, Status: store.StatusPending, Variables: r.Variables}, err
}
func (s *engineSpy) Decide(ctx context.Context, id string, d engine.Decision) error {
	return s.record("decide %s %v by %s %v: %s", id, d.Approve, d.By, d.Groups, d.Comment)
}
func (s *engineSpy) Rollback(ctx context.Context, id, by, reason string) error {
	return s.record("rollback %s by %s: %s", id, by, reason)
}
func (s *engineSpy) Abort(ctx context.Context, id, by, reason string) error {
	return s.record("abort %s by %s: %s", id, by, reason)
}
func (s *engineSpy) Pause(ctx context.Context, id, by string) error {
	return s.record("pause %s by %s", id, by)
}
func (s *engineSpy) Resume(ctx context.Context, id, by string) error {
	return s.record("resume %s by %s", id, by)
}
func (s *engineSpy) Retry(ctx context.Context, id, by string) error {
	return s.record("retry %s by %s", id, by)
}

type env struct {
	store  store.Store
	spy    *engineSpy
	broker *events.Broker
	client *client.Client
	drops  atomic.Int32 // SSE connections still to cut
	after  int          // events written before a connection is cut
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: st, spy: &engineSpy{}, after: 3}
	e.broker = events.New(st, events.WithPollInterval(0))
	h := api.New(api.Deps{Store: st, Engine: e.spy, Broker: e.broker, Heartbeat: 10 * time.Millisecond, StatusPoll: 20 * time.Millisecond})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") == "text/event-stream" && e.drops.Add(-1) >= 0 {
			w = &cutWriter{ResponseWriter: w, left: e.after}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		_ = st.Close()
	})
	e.client, err = client.New(srv.URL, client.WithUser("alice", "sre"))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// cutWriter aborts the connection after writing `left` events, as a dropped network
// connection or a restarted server would.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if strings.HasPrefix(string(b), "id: ") {
		if c.left == 0 {
			panic(http.ErrAbortHandler)
		}
		c.left--
	}
	return c.ResponseWriter.Write(b)
}

func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

const workflowYAML = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata:
  name: staging
spec:
  platform:
    type: local
  router:
    type: builtin
    builtin:
      listen: 127.0.0.1:18080
`

func TestDefinitions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.client.Apply(ctx, "env.yaml", []byte(workflowYAML), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 1 || res.Results[0].Action != api.ActionCreated || res.Results[0].Version != 1 {
		t.Fatalf("apply: %+v", res)
	}
	tests := []struct {
		name string
		call func() (any, error)
		want string
	}{
		{"list", func() (any, error) { return e.client.List(ctx, client.KindEnvironment) }, "staging v1 by alice"},
		{"get", func() (any, error) { return e.client.Get(ctx, client.KindEnvironment, "staging", 0) }, "staging v1 by alice"},
		{"get version", func() (any, error) { return e.client.Get(ctx, client.KindEnvironment, "staging", 1) }, "staging v1 by alice"},
		{"history", func() (any, error) { return e.client.History(ctx, client.KindEnvironment, "staging") }, "staging v1 by alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			var defs []api.Definition
			switch v := got.(type) {
			case api.Definition:
				defs = []api.Definition{v}
				if v.Source != workflowYAML {
					t.Fatalf("source %q", v.Source)
				}
			case []api.Definition:
				defs = v
			}
			if len(defs) != 1 || fmt.Sprintf("%s v%d by %s", defs[0].Name, defs[0].Version, defs[0].CreatedBy) != tt.want {
				t.Fatalf("got %+v, want %s", defs, tt.want)
			}
		})
	}
	if err := e.client.Delete(ctx, client.KindEnvironment, "staging"); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.Get(ctx, client.KindEnvironment, "staging", 0)
	if !client.IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestAPIErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t.Run("problems", func(t *testing.T) {
		_, err := e.client.Apply(ctx, "bad.yaml", []byte("apiVersion: sluice.dev/v1alpha1\nkind: Gadget\nmetadata: {}\n"), true)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || len(ae.Problems) == 0 {
			t.Fatalf("got %#v", err)
		}
		if p := ae.Problems[0]; p.File != "bad.yaml" || p.Line == 0 {
			t.Fatalf("problem without a place: %+v", p)
		}
	})
	t.Run("engine refuses", func(t *testing.T) {
		e.spy.err = fmt.Errorf("not waiting for approval: %w", engine.ErrInvalidState)
		defer func() { e.spy.err = nil }()
		err := e.client.Approve(ctx, "ex-1", "ok")
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Code != api.CodeInvalidState || ae.Status != http.StatusConflict {
			t.Fatalf("got %#v", err)
		}
	})
	t.Run("bad address", func(t *testing.T) {
		if _, err := client.New("127.0.0.1:7070"); err == nil {
			t.Fatal("accepted an address without scheme")
		}
	})
}

func TestActions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"run", func() error {
			ex, err := e.client.Run(ctx, "checkout", 2, map[string]string{"version": "v2"})
			if err == nil && ex.ID != "ex-9" {
				err = fmt.Errorf("execution %+v", ex)
			}
			return err
		}, "start checkout v2 map[version:v2] by alice"},
		{"approve", func() error { return e.client.Approve(ctx, "ex-1", "ship it") }, "decide ex-1 true by alice [sre]: ship it"},
		{"reject", func() error { return e.client.Reject(ctx, "ex-1", "no") }, "decide ex-1 false by alice [sre]: no"},
		{"rollback", func() error { return e.client.Rollback(ctx, "ex-1", "errors") }, "rollback ex-1 by alice: errors"},
		{"abort", func() error { return e.client.Abort(ctx, "ex-1", "wrong build") }, "abort ex-1 by alice: wrong build"},
		{"pause", func() error { return e.client.Pause(ctx, "ex-1") }, "pause ex-1 by alice"},
		{"resume", func() error { return e.client.Resume(ctx, "ex-1") }, "resume ex-1 by alice"},
		{"retry", func() error { return e.client.Retry(ctx, "ex-1") }, "retry ex-1 by alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			if got := e.spy.last(); got != tt.want {
				t.Fatalf("engine got %q, want %q", got, tt.want)
			}
		})
	}
}

// writer commits n console events for ex and publishes them, then (when final is set)
// the terminal status with its event.
func (e *env) write(t *testing.T, ex *store.Execution, n int, final store.Status) {
	t.Helper()
	for i := range n {
		c := &store.Commit{ExecutionID: ex.ID, Events: []store.Event{{ExecutionID: ex.ID, At: time.Now(),
			Type: "console", Step: "p2.s1", Level: "info", Message: fmt.Sprintf("line %d", i)}}}
		if err := e.store.Commit(context.Background(), c); err != nil {
			t.Error(err)
			return
		}
		e.broker.Publish(c.Events...)
	}
	if final != "" {
		ex.Status = final
		c := &store.Commit{Execution: ex, Events: []store.Event{{ExecutionID: ex.ID, At: time.Now(), Type: "status", Message: string(final)}}}
		if err := e.store.Commit(context.Background(), c); err != nil {
			t.Error(err)
			return
		}
		e.broker.Publish(c.Events...)
	}
}

func TestFollow(t *testing.T) {
	tests := []struct {
		name       string
		backlog    int
		live       int
		after      int64
		drops      int32
		dropAfter  int
		wantFirst  int64
		wantEvents int
	}{
		{name: "no drops", backlog: 5, live: 20, wantFirst: 1, wantEvents: 26},
		{name: "resume from offset", backlog: 5, live: 5, after: 4, wantFirst: 5, wantEvents: 7},
		{name: "dropped three times", backlog: 5, live: 40, drops: 3, dropAfter: 4, wantFirst: 1, wantEvents: 46},
		{name: "dropped before any event", backlog: 2, live: 3, drops: 2, dropAfter: 0, wantFirst: 1, wantEvents: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.drops.Store(tt.drops)
			e.after = tt.dropAfter
			ex := store.Execution{ID: "ex-1", Workflow: "checkout", Status: store.StatusRunning, CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := e.store.Commit(context.Background(), &store.Commit{Execution: &ex, Create: true}); err != nil {
				t.Fatal(err)
			}
			e.write(t, &ex, tt.backlog, "")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			go e.write(t, &ex, tt.live, store.StatusSucceeded)
			next, n := tt.wantFirst, 0
			for ev, err := range e.client.Follow(ctx, "ex-1", tt.after) {
				if err != nil {
					t.Fatalf("after seq %d: %v", next-1, err)
				}
				if ev.Seq != next {
					t.Fatalf("got seq %d, want %d", ev.Seq, next)
				}
				next++
				n++
			}
			if n != tt.wantEvents {
				t.Fatalf("got %d events, want %d", n, tt.wantEvents)
			}
			if left := e.drops.Load(); left > 0 {
				t.Fatalf("%d planned drops did not happen", left)
			}
		})
	}
}

func TestFollowErrors(t *testing.T) {
	e := newEnv(t)
	t.Run("unknown execution", func(t *testing.T) {
		for _, err := range e.client.Follow(context.Background(), "nope", 0) {
			if !client.IsNotFound(err) {
				t.Fatalf("got %v", err)
			}
			return
		}
		t.Fatal("no error")
	})
	t.Run("consumer stops early", func(t *testing.T) {
		ex := store.Execution{ID: "ex-2", Status: store.StatusRunning}
		if err := e.store.Commit(context.Background(), &store.Commit{Execution: &ex, Create: true}); err != nil {
			t.Fatal(err)
		}
		e.write(t, &ex, 3, "")
		for ev, err := range e.client.Follow(context.Background(), "ex-2", 0) {
			if err != nil || ev.Seq != 1 {
				t.Fatalf("got %+v %v", ev, err)
			}
			break
		}
	})
	t.Run("events page", func(t *testing.T) {
		page, err := e.client.Events(context.Background(), "ex-2", 1, 1)
		if err != nil || len(page.Items) != 1 || page.Items[0].Seq != 2 || page.Next != 2 {
			b, _ := json.Marshal(page)
			t.Fatalf("got %s %v", b, err)
		}
	})
}
