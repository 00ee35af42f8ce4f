package enginetest

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// Environment is the environment "test": the recording platform and router.
const Environment = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  platform: {type: recorder, recorder: {file: unused.jsonl}}
  router: {type: recorder, recorder: {file: unused.jsonl}}
`

// Resolver gives every environment the same runtime.
type Resolver struct{ Runtime engine.Runtime }

// Resolve returns the runtime.
func (r Resolver) Resolve(context.Context, string, *spec.Environment) (engine.Runtime, error) {
	return r.Runtime, nil
}

// Harness is an engine on a real store with a recording platform and router.
type Harness struct {
	T        testing.TB
	Store    store.Store
	Recorder *recorder.Recorder
	Engine   *engine.Engine
	Dir      string
	// Options are used by every (re)start; Store and Resolver are filled in, and
	// PollInterval and RetryBackoff default to 5ms. The harness also receives what
	// Publisher receives, to wake its waits.
	Options engine.Options

	changes changes
}

// changes is a Publisher that wakes the harness's waits whenever an engine makes
// events durable: every status, step, console line and record is one.
type changes struct {
	mu sync.Mutex
	ch chan struct{} // closed at the next publish
}

// Publish wakes every wait.
func (c *changes) Publish(...store.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// next returns a channel closed at the next publish.
func (c *changes) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// publishers passes events to each of its publishers.
type publishers []engine.Publisher

func (ps publishers) Publish(evs ...store.Event) {
	for _, p := range ps {
		p.Publish(evs...)
	}
}

// Publisher returns the publisher an engine the test makes itself should have, so
// the harness's waits see its events.
func (h *Harness) Publisher() engine.Publisher {
	if h.Options.Publisher == nil {
		return &h.changes
	}
	return publishers{h.Options.Publisher, &h.changes}
}

// Await waits until cond holds, checking it at the start and after each event an
// engine of the harness makes durable, and fails the test naming what after limit.
func (h *Harness) Await(what string, limit time.Duration, cond func() bool) {
	h.T.Helper()
	if !h.Within(limit, cond) {
		h.T.Fatalf("%s: not within %s", what, limit)
	}
}

// Within is Await that reports whether cond held within limit instead of failing.
func (h *Harness) Within(limit time.Duration, cond func() bool) bool {
	giveUp := time.NewTimer(limit)
	defer giveUp.Stop()
	for {
		changed := h.changes.next()
		if cond() {
			return true
		}
		select {
		case <-changed:
		case <-giveUp.C:
			return false
		}
	}
}

// New starts an engine on a new SQLite store and applies Environment.
func New(t testing.TB, opts engine.Options) *Harness {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return NewOn(t, st, dir, opts)
}

// NewOn starts an engine on the given store and applies Environment.
func NewOn(t testing.TB, st store.Store, dir string, opts engine.Options) *Harness {
	t.Helper()
	h := &Harness{T: t, Store: st, Recorder: recorder.New(), Dir: dir, Options: opts}
	if h.Options.PollInterval == 0 {
		h.Options.PollInterval = 5 * time.Millisecond
	}
	if h.Options.RetryBackoff == 0 {
		h.Options.RetryBackoff = 5 * time.Millisecond
	}
	h.Restart()
	t.Cleanup(func() { h.Engine.Close() })
	h.Apply(Environment)
	return h
}

// Restart replaces the engine with a new one on the same store and recorder, as a
// server restart would; it does not call Recover.
func (h *Harness) Restart() {
	h.T.Helper()
	if h.Engine != nil {
		h.Engine.Close()
	}
	opts := h.Options
	opts.Store = h.Store
	opts.Publisher = h.Publisher()
	if opts.Resolver == nil {
		opts.Resolver = Resolver{engine.Runtime{Platform: h.Recorder, Router: h.Recorder}}
	}
	eng, err := engine.New(opts)
	if err != nil {
		h.T.Fatal(err)
	}
	h.Engine = eng
}

// Apply stores every document of src as the next version of its definition.
func (h *Harness) Apply(src string) {
	h.T.Helper()
	docs, err := spec.ParseDocuments("test.yaml", []byte(src))
	if err != nil {
		h.T.Fatalf("parse: %v", err)
	}
	for _, d := range docs {
		kind := store.KindWorkflow
		if d.Kind == spec.KindEnvironment {
			kind = store.KindEnvironment
		}
		def := store.Definition{Kind: kind, Name: d.Name, Source: string(d.Source), CreatedAt: time.Now()}
		if _, _, err := h.Store.PutDefinition(context.Background(), def); err != nil {
			h.T.Fatal(err)
		}
	}
}

// Start starts an execution of a workflow as "tester".
func (h *Harness) Start(workflow string, vars map[string]string) store.Execution {
	h.T.Helper()
	ex, err := h.Engine.Start(context.Background(), engine.StartRequest{Workflow: workflow, Variables: vars, StartedBy: "tester"})
	if err != nil {
		h.T.Fatalf("start %s: %v", workflow, err)
	}
	return ex
}

// Get reads an execution from the store.
func (h *Harness) Get(id string) store.Execution {
	h.T.Helper()
	ex, err := h.Store.GetExecution(context.Background(), id)
	if err != nil {
		h.T.Fatal(err)
	}
	return ex
}

// WaitFor polls the execution until it has the status, failing when it ends
// otherwise or after 10s.
func (h *Harness) WaitFor(id string, want store.Status) store.Execution {
	h.T.Helper()
	return h.poll(id, 10*time.Second, func(ex store.Execution) bool {
		if ex.Status != want && ex.Status.Terminal() {
			h.T.Fatalf("execution %s ended %s (%s), want %s\nconsole:\n%s", id, ex.Status, ex.Reason, want, h.Console(id))
		}
		return ex.Status == want
	})
}

// Settle waits until the execution is finished or paused for a person.
func (h *Harness) Settle(id string) store.Execution {
	h.T.Helper()
	return h.poll(id, 20*time.Second, func(ex store.Execution) bool {
		return ex.Status.Terminal() || ex.Status == store.StatusPaused
	})
}

func (h *Harness) poll(id string, limit time.Duration, done func(store.Execution) bool) store.Execution {
	h.T.Helper()
	var ex store.Execution
	if !h.Within(limit, func() bool { ex = h.Get(id); return done(ex) }) {
		h.T.Fatalf("execution %s is still %s (%s)\nconsole:\n%s", id, ex.Status, ex.Reason, h.Console(id))
	}
	return ex
}

// Finish waits until the engine lets go of the execution and returns it.
func (h *Harness) Finish(id string) store.Execution {
	h.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.Engine.Wait(ctx, id); err != nil {
		h.T.Fatalf("execution %s did not finish: %v\nconsole:\n%s", id, err, h.Console(id))
	}
	return h.Get(id)
}

// Console renders an execution's events, one per line.
func (h *Harness) Console(id string) string {
	evs, err := h.Store.Events(context.Background(), id, 0, 0)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%3d %-11s %-6s %s\n", e.Seq, e.Type, e.Step, e.Message)
	}
	return b.String()
}

// Records returns the data a step runner recorded of a kind, in order.
func (h *Harness) Records(id string, kind events.Type) []json.RawMessage {
	h.T.Helper()
	j, err := h.Store.Journal(context.Background(), id)
	if err != nil {
		h.T.Fatal(err)
	}
	var out []json.RawMessage
	for _, e := range j {
		if events.Kind(e.Kind) == events.RecordKind(kind) {
			out = append(out, e.Data)
		}
	}
	return out
}
