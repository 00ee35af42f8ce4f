package engine_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/postgres"
	"github.com/sluicehq/sluice/internal/store/postgres/pgtest"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// staticResolver gives every environment the same recorder.
type staticResolver struct{ rec *recorder.Recorder }

func (s staticResolver) Resolve(ctx context.Context, name string, env *spec.Environment) (engine.Runtime, error) {
	return engine.Runtime{Platform: s.rec, Router: s.rec}, nil
}

// harness is an engine on a real SQLite store with a recording platform and router.
type harness struct {
	t   *testing.T
	st  store.Store
	rec *recorder.Recorder
	eng *engine.Engine
	dir string
}

// newHarness runs on SQLite, the embedded default.
func newHarness(t *testing.T) *harness { return newHarnessOn(t, "sqlite") }

// stores are the store implementations the engine's store-sensitive tests run on.
var stores = []string{"sqlite", "postgres"}

// newHarnessOn runs on the named store; postgres gets a fresh schema of its own.
func newHarnessOn(t *testing.T, kind string) *harness {
	t.Helper()
	dir := t.TempDir()
	var st store.Store
	var err error
	switch kind {
	case "postgres":
		st, err = postgres.Open(context.Background(), pgtest.DSN(t))
	default:
		st, err = sqlite.Open(context.Background(), filepath.Join(dir, "sluice.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, rec: recorder.New(), dir: dir}
	h.start()
	t.Cleanup(func() {
		h.eng.Close()
		st.Close()
	})
	h.apply(environmentYAML)
	return h
}

// start (re)creates the engine on the same store and recorder, as a restart would.
func (h *harness) start() {
	eng, err := engine.New(engine.Options{
		Store: h.st, Resolver: staticResolver{h.rec},
		PollInterval: 5 * time.Millisecond, RetryBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng = eng
}

func (h *harness) apply(src string) {
	h.t.Helper()
	docs, err := spec.ParseDocuments("test.yaml", []byte(src))
	if err != nil {
		h.t.Fatalf("parse: %v", err)
	}
	for _, d := range docs {
		kind := store.KindWorkflow
		if d.Kind == spec.KindEnvironment {
			kind = store.KindEnvironment
		}
		_, _, err := h.st.PutDefinition(context.Background(), store.Definition{Kind: kind, Name: d.Name, Source: string(d.Source), CreatedAt: time.Now()})
		if err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) run(workflow string, vars map[string]string) store.Execution {
	h.t.Helper()
	ex, err := h.eng.Start(context.Background(), engine.StartRequest{Workflow: workflow, Variables: vars, StartedBy: "tester"})
	if err != nil {
		h.t.Fatalf("start %s: %v", workflow, err)
	}
	return ex
}

// waitFor polls the execution until it has the status, failing after a few seconds.
func (h *harness) waitFor(id string, want store.Status) store.Execution {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ex, err := h.st.GetExecution(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if ex.Status == want {
			return ex
		}
		if ex.Status.Terminal() || time.Now().After(deadline) {
			h.t.Fatalf("execution %s is %s (%s), want %s\nconsole:\n%s", id, ex.Status, ex.Reason, want, h.console(id))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// finish waits until the engine lets go of the execution and returns it.
func (h *harness) finish(id string) store.Execution {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.eng.Wait(ctx, id); err != nil {
		h.t.Fatalf("execution %s did not finish: %v\nconsole:\n%s", id, err, h.console(id))
	}
	ex, err := h.st.GetExecution(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return ex
}

func (h *harness) console(id string) string {
	evs, err := h.st.Events(context.Background(), id, 0, 0)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%3d %-8s %-6s %s\n", e.Seq, e.Type, e.Step, e.Message)
	}
	return b.String()
}

func (h *harness) decide(id, by string, approve bool, groups ...string) error {
	return h.eng.Decide(context.Background(), id, engine.Decision{Approve: approve, By: by, Groups: groups, Comment: "looks " + map[bool]string{true: "good", false: "bad"}[approve]})
}

// weights returns the sequence of weight writes the router received for a service.
func (h *harness) weights(service string) []string {
	var out []string
	for _, e := range h.rec.Effects() {
		if e.Op == "weights" && e.Service == service {
			out = append(out, e.Weights.String())
		}
	}
	return out
}

// effectKeys returns every applied effect's op and key, to check for duplicates.
func (h *harness) duplicateEffects() []string {
	seen := map[string]int{}
	var dups []string
	for _, e := range h.rec.Effects() {
		if e.Key == "" {
			continue
		}
		seen[e.Key]++
		if seen[e.Key] == 2 {
			dups = append(dups, e.Key)
		}
	}
	return dups
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

const environmentYAML = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  platform: {type: recorder, recorder: {file: unused.jsonl}}
  router: {type: recorder, recorder: {file: unused.jsonl}}
`

// canaryYAML is the seed's shape: set up blue, canary with approval, promote.
const canaryYAML = `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: test
  variables:
    - {name: artifact, type: string, required: true}
    - {name: pct, type: percent, default: "10"}
  service: {name: shop, port: 8080, artifact: "${artifact}", instances: 3}
  phases:
    - name: setup
      steps:
        - service: {hosts: [shop.example.com]}
        - deploy: {instances: 100%}
    - name: canary
      steps:
        - traffic: {weight: "${pct}"}
        - wait: 5ms
        - approval: {approvers: [alice, "group:sre"]}
    - name: promote
      steps:
        - traffic: 100%
        - promote: {}
        - scaledown: {delay: 5ms}
`
