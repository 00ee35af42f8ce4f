package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/pipeline"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/spec"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
	"github.com/sluicehq/sluice/internal/verify"
	"github.com/sluicehq/sluice/internal/verify/providers"
)

// envs gives every environment its own recording platform and router, so that the
// same service in two environments is two services, as on real platforms.
type envs struct {
	mu   sync.Mutex
	recs map[string]*recorder.Recorder
}

func (e *envs) Resolve(_ context.Context, name string, _ *spec.Environment) (engine.Runtime, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.recs[name]
	if r == nil {
		r = recorder.New()
		e.recs[name] = r
	}
	return engine.Runtime{Platform: r, Router: r}, nil
}

// fixture is an engine and a pipeline runner on one SQLite store, as in a server.
type fixture struct {
	t         *testing.T
	st        *sqlite.Store
	envs      *envs
	eng       *engine.Engine
	runner    *pipeline.Runner
	authorize func(ctx context.Context, id auth.Identity, env, action string) error
	check     string // base URL of a check: /ok answers 200, /fail 500
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "checkout is broken", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(check.Close)
	f := &fixture{t: t, st: st, envs: &envs{recs: map[string]*recorder.Recorder{}}, check: check.URL}
	f.start()
	t.Cleanup(f.stop)
	return f
}

// start builds the engine and runner and resumes what the store holds.
func (f *fixture) start() {
	f.t.Helper()
	eng, err := engine.New(engine.Options{Store: f.st, Resolver: f.envs, PollInterval: 5 * time.Millisecond,
		RetryBackoff: 5 * time.Millisecond, Owner: "server-1"})
	if err != nil {
		f.t.Fatal(err)
	}
	r, err := pipeline.New(pipeline.Options{Store: f.st, Engine: eng, Owner: "server-1", Poll: 10 * time.Millisecond,
		Verifier: verify.NewStep(providers.NewSource(providers.Types, verify.Deps{}), verify.WithInterval(50*time.Millisecond)),
		Authorize: func(ctx context.Context, id auth.Identity, env, action string) error {
			if f.authorize == nil {
				return nil
			}
			return f.authorize(ctx, id, env, action)
		},
		Undo: func(ctx context.Context, env, service, who, reason string) (string, error) {
			return api.UndoService(ctx, f.st, eng, env, service, who, reason)
		}})
	if err != nil {
		f.t.Fatal(err)
	}
	f.eng, f.runner = eng, r
	ctx := context.Background()
	if _, err := eng.Recover(ctx); err != nil {
		f.t.Fatal(err)
	}
	if _, err := r.Recover(ctx); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) stop() {
	if f.runner != nil {
		f.runner.Close()
		f.eng.Close()
		f.runner, f.eng = nil, nil
	}
}

// restart stops the runner and engine as a server stop would, and starts new ones.
func (f *fixture) restart() {
	f.stop()
	f.start()
}

// apply stores every document of src, checking pipelines against what is stored.
func (f *fixture) apply(src string) {
	f.t.Helper()
	ctx := context.Background()
	docs, err := spec.ParseDocuments("test.yaml", []byte(src))
	if err != nil {
		f.t.Fatalf("parse: %v", err)
	}
	for _, d := range docs {
		kind := map[string]store.Kind{spec.KindWorkflow: store.KindWorkflow, spec.KindEnvironment: store.KindEnvironment,
			spec.KindPipeline: store.KindPipeline}[d.Kind]
		if _, _, err := f.st.PutDefinition(ctx, store.Definition{Kind: kind, Name: d.Name, Source: string(d.Source), CreatedAt: time.Now()}); err != nil {
			f.t.Fatal(err)
		}
	}
}

// run starts a pipeline as who.
func (f *fixture) run(name, who string, vars map[string]string) (store.PipelineRun, error) {
	return f.runner.Start(context.Background(), pipeline.StartRequest{Pipeline: name, Variables: vars, Identity: auth.Identity{User: who}})
}

// waitRun polls the run until cond holds; it fails the test when the run ends
// without it or after a minute.
func (f *fixture) waitRun(id, what string, cond func(store.PipelineRun, pipeline.State) bool) (store.PipelineRun, pipeline.State) {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		run, st, err := f.runner.Get(context.Background(), id)
		if err != nil {
			f.t.Fatal(err)
		}
		if cond(run, st) {
			return run, st
		}
		if run.Status.Terminal() || time.Now().After(deadline) {
			f.t.Fatalf("run %s: %s did not happen; it is %s (%s)\n%s", id, what, run.Status, run.Reason, logOf(st))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEnd waits for the run to end and returns it.
func (f *fixture) waitEnd(id string) (store.PipelineRun, pipeline.State) {
	f.t.Helper()
	return f.waitRun(id, "its end", func(run store.PipelineRun, _ pipeline.State) bool { return run.Status.Terminal() })
}

// stage returns the named stage of a state.
func stage(st pipeline.State, name string) pipeline.StageState {
	for _, s := range st.Stages {
		if s.Name == name {
			return s
		}
	}
	return pipeline.StageState{}
}

func logOf(st pipeline.State) string {
	out := ""
	for _, l := range st.Log {
		out += fmt.Sprintf("  %s %-5s %s\n", l.At.Format("15:04:05.000"), l.Level, l.Message)
	}
	return out
}

// service reads the live release of a service in an environment.
func (f *fixture) service(env, svc string) store.ServiceState {
	f.t.Helper()
	s, err := f.st.GetService(context.Background(), env, svc)
	if err != nil {
		f.t.Fatalf("service %s in %s: %v", svc, env, err)
	}
	return s
}

func (f *fixture) decide(id, stageName, by string, approve bool) error {
	return f.runner.Decide(context.Background(), id, stageName, engine.Decision{Approve: approve, By: by, Comment: "checked"})
}

var errNoProd = errors.New("forbidden")
