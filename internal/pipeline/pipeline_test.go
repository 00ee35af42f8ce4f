package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/pipeline"
	"github.com/sluicehq/sluice/internal/store"
)

// documents: four environments, one workflow that takes its environment from a
// variable and checks the release with a webhook, and pipelines over them.
func documents(check string) string {
	var b strings.Builder
	for _, env := range []string{"staging", "production", "eu", "us"} {
		fmt.Fprintf(&b, `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: %s}
spec:
  platform: {type: recorder, recorder: {file: unused.jsonl}}
  router: {type: recorder, recorder: {file: unused.jsonl}}
---
`, env)
	}
	fmt.Fprintf(&b, `apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: ${env}
  variables:
    - {name: env, type: string, required: true}
    - {name: artifact, type: string, required: true}
    - {name: check, type: string, default: "%[1]s/ok"}
  service: {name: shop, port: 8080, artifact: "${artifact}"}
  phases:
    - name: canary
      steps:
        - deploy: {instances: 1}
        - traffic: 10%%
        - webhook: {url: "${check}"}
    - name: release
      steps:
        - traffic: 100%%
        - promote: {}
        - scaledown: {}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: region}
spec:
  environment: ${env}
  variables:
    - {name: env, type: string, required: true}
    - {name: artifact, type: string, required: true}
  service: {name: shop, port: 8080, artifact: "${artifact}"}
  phases:
    - name: release
      steps:
        - deploy: {instances: 1}
        - approval: {approvers: [sre]}
        - traffic: 100%%
        - promote: {}
        - scaledown: {}
---
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  variables:
    - {name: artifact, type: string, required: true}
    - {name: prodCheck, type: string, default: "%[1]s/ok"}
  stages:
    - {name: staging, workflow: shop, environment: staging}
    - name: production
      workflow: shop
      environment: production
      variables: {check: "${pipeline.prodCheck}", artifact: "${stages.staging.artifact}"}
      gates:
        - approval: {approvers: [carol, "group:sre"], message: "staging looks fine?"}
---
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: release-all}
spec:
  onFailure: rollback-all
  variables:
    - {name: artifact, type: string, required: true}
    - {name: prodCheck, type: string, default: "%[1]s/ok"}
  stages:
    - {name: staging, workflow: shop, environment: staging}
    - name: production
      workflow: shop
      environment: production
      variables: {check: "${pipeline.prodCheck}"}
---
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: regions}
spec:
  variables:
    - {name: artifact, type: string, required: true}
  stages:
    - {name: staging, workflow: shop, environment: staging}
    - {name: eu, workflow: region, environment: eu, after: [staging]}
    - {name: us, workflow: region, environment: us, after: [staging]}
    - {name: global, workflow: shop, environment: production, after: [eu, us]}
`, check)
	return b.String()
}

// TestStagingToProductionWithApproval: staging runs, production waits behind its
// approval gate (the run says waiting); a person not among the approvers is refused,
// an approver lets production run with the artifact staging ran; both environments
// then serve it, each through an ordinary execution the run links.
func TestStagingToProductionWithApproval(t *testing.T) {
	f := newFixture(t)
	f.apply(documents(f.check))
	run, err := f.run("release", "alice", map[string]string{"artifact": "shop:v1"})
	if err != nil {
		t.Fatal(err)
	}
	run, st := f.waitRun(run.ID, "production gated", func(r store.PipelineRun, st pipeline.State) bool {
		return r.Status == store.StatusWaiting
	})
	if s := stage(st, "staging"); s.Status != pipeline.StageSucceeded || s.Execution == "" {
		t.Fatalf("staging while production waits: %+v", s)
	}
	if s := stage(st, "production"); s.Status != pipeline.StageGated || s.Execution != "" {
		t.Fatalf("production before the approval: %+v", s)
	}
	if got := f.service("staging", "shop").Artifact; got != "shop:v1" {
		t.Fatalf("staging serves %s, want shop:v1", got)
	}
	if _, err := f.st.GetService(context.Background(), "production", "shop"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("production has a release before the approval: %v", err)
	}
	if err := f.decide(run.ID, "production", "mallory", true); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("approval by mallory: %v, want forbidden", err)
	}
	if err := f.decide(run.ID, "staging", "carol", true); !errors.Is(err, engine.ErrInvalidState) {
		t.Fatalf("approval of a stage without a waiting gate: %v, want invalid state", err)
	}
	err = f.runner.Decide(context.Background(), run.ID, "production", engine.Decision{Approve: true, By: "dan", Groups: []string{"sre"}})
	if err != nil {
		t.Fatalf("approval by a member of group sre: %v", err)
	}
	run, st = f.waitEnd(run.ID)
	if run.Status != store.StatusSucceeded {
		t.Fatalf("run ended %s (%s)\n%s", run.Status, run.Reason, logOf(st))
	}
	prod := stage(st, "production")
	ex, err := f.st.GetExecution(context.Background(), prod.Execution)
	if err != nil || ex.Status != store.StatusSucceeded || ex.Environment != "production" || ex.StartedBy != "alice" || ex.Variables["artifact"] != "shop:v1" {
		t.Fatalf("production's execution %+v, %v", ex, err)
	}
	if got := f.service("production", "shop").Artifact; got != "shop:v1" {
		t.Fatalf("production serves %s, want shop:v1", got)
	}
	if d := prod.Decisions; len(d) != 1 || d[0].By != "dan" || !d[0].Approve {
		t.Fatalf("decisions recorded: %+v", d)
	}
}

// TestRunSurvivesRestartMidGate: the server stops while production waits for its
// approval; after the restart the run is resumed, the approval (taken by the new
// runner) lets production run, and staging's execution is not started again.
func TestRunSurvivesRestartMidGate(t *testing.T) {
	f := newFixture(t)
	f.apply(documents(f.check))
	run, err := f.run("release", "alice", map[string]string{"artifact": "shop:v2"})
	if err != nil {
		t.Fatal(err)
	}
	_, before := f.waitRun(run.ID, "production gated", func(r store.PipelineRun, _ pipeline.State) bool { return r.Status == store.StatusWaiting })
	f.restart()
	if err := f.decide(run.ID, "production", "carol", true); err != nil {
		t.Fatalf("approval after the restart: %v", err)
	}
	run, st := f.waitEnd(run.ID)
	if run.Status != store.StatusSucceeded {
		t.Fatalf("run ended %s (%s)\n%s", run.Status, run.Reason, logOf(st))
	}
	if a, b := stage(before, "staging").Execution, stage(st, "staging").Execution; a != b {
		t.Fatalf("staging's execution changed across the restart: %s, then %s", a, b)
	}
	exs, err := f.st.ListExecutions(context.Background(), store.ExecutionFilter{Environment: "staging"})
	if err != nil || len(exs) != 1 {
		t.Fatalf("staging has %d executions (%v), want 1", len(exs), err)
	}
	if got := f.service("production", "shop").Artifact; got != "shop:v2" {
		t.Fatalf("production serves %s, want shop:v2", got)
	}
}

// TestFailedProductionRollsBackItself (rollback-stage): production's check fails, so
// production rolls back to its live release; staging keeps the new one.
func TestFailedProductionRollsBackItself(t *testing.T) {
	f := newFixture(t)
	f.apply(documents(f.check))
	first := f.releaseAll(t, "release", "shop:v1")
	_ = first
	run, err := f.run("release", "alice", map[string]string{"artifact": "shop:v2", "prodCheck": f.check + "/fail"})
	if err != nil {
		t.Fatal(err)
	}
	f.waitRun(run.ID, "production gated", func(r store.PipelineRun, _ pipeline.State) bool { return r.Status == store.StatusWaiting })
	if err := f.decide(run.ID, "production", "carol", true); err != nil {
		t.Fatal(err)
	}
	run, st := f.waitEnd(run.ID)
	if run.Status != store.StatusFailed || !strings.Contains(run.Reason, "production") {
		t.Fatalf("run ended %s (%s), want failed naming production\n%s", run.Status, run.Reason, logOf(st))
	}
	if s := stage(st, "production"); s.Status != pipeline.StageFailed || s.ExecStatus != store.StatusRolledBack {
		t.Fatalf("production: %+v", s)
	}
	if s := stage(st, "staging"); s.Status != pipeline.StageSucceeded {
		t.Fatalf("staging after rollback-stage: %+v, want succeeded and left alone", s)
	}
	if got := f.service("production", "shop").Artifact; got != "shop:v1" {
		t.Fatalf("production serves %s after its rollback, want shop:v1", got)
	}
	if got := f.service("staging", "shop").Artifact; got != "shop:v2" {
		t.Fatalf("staging serves %s, want shop:v2 (rollback-stage keeps it)", got)
	}
}

// TestFailedProductionRollsBackAll (rollback-all): production's check fails, so
// production rolls back and staging is undone: its previous release runs again.
func TestFailedProductionRollsBackAll(t *testing.T) {
	f := newFixture(t)
	f.apply(documents(f.check))
	f.releaseAll(t, "release-all", "shop:v1")
	run, err := f.run("release-all", "alice", map[string]string{"artifact": "shop:v2", "prodCheck": f.check + "/fail"})
	if err != nil {
		t.Fatal(err)
	}
	run, st := f.waitEnd(run.ID)
	if run.Status != store.StatusRolledBack {
		t.Fatalf("run ended %s (%s), want rolled_back\n%s", run.Status, run.Reason, logOf(st))
	}
	stg := stage(st, "staging")
	if stg.Status != pipeline.StageUndone || stg.UndoExecution == "" || stg.UndoExecution == stg.Execution {
		t.Fatalf("staging after rollback-all: %+v", stg)
	}
	undo, err := f.st.GetExecution(context.Background(), stg.UndoExecution)
	if err != nil || undo.Variables["artifact"] != "shop:v1" || undo.Status != store.StatusSucceeded {
		t.Fatalf("staging's undo: %+v, %v; want a succeeded redeploy of shop:v1", undo, err)
	}
	for _, env := range []string{"staging", "production"} {
		if got := f.service(env, "shop").Artifact; got != "shop:v1" {
			t.Fatalf("%s serves %s after rollback-all, want shop:v1", env, got)
		}
	}
}

// releaseAll runs a pipeline to success (approving any gate as carol): the release
// an undo goes back to.
func (f *fixture) releaseAll(t *testing.T, name, artifact string) string {
	t.Helper()
	run, err := f.run(name, "alice", map[string]string{"artifact": artifact})
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, st := f.waitRun(run.ID, "a gate or the end", func(r store.PipelineRun, _ pipeline.State) bool {
			return r.Status == store.StatusWaiting || r.Status.Terminal()
		})
		if r.Status == store.StatusSucceeded {
			return run.ID
		}
		if r.Status.Terminal() {
			t.Fatalf("first release ended %s (%s)\n%s", r.Status, r.Reason, logOf(st))
		}
		if err := f.decide(run.ID, "production", "carol", true); err != nil {
			t.Fatal(err)
		}
		f.waitRun(run.ID, "past the gate", func(r store.PipelineRun, _ pipeline.State) bool { return r.Status != store.StatusWaiting })
	}
}

// TestParallelRegionsWithBarrier: eu and us run at the same time after staging (both
// wait for their own approval at once); global, after both, stays pending while only
// eu has finished, and runs once us has too.
func TestParallelRegionsWithBarrier(t *testing.T) {
	f := newFixture(t)
	f.apply(documents(f.check))
	run, err := f.run("regions", "alice", map[string]string{"artifact": "shop:v3"})
	if err != nil {
		t.Fatal(err)
	}
	_, st := f.waitRun(run.ID, "eu and us both waiting for approval", func(_ store.PipelineRun, st pipeline.State) bool {
		return stage(st, "eu").ExecStatus == store.StatusWaiting && stage(st, "us").ExecStatus == store.StatusWaiting
	})
	if g := stage(st, "global"); g.Status != pipeline.StagePending {
		t.Fatalf("global while both regions run: %s", g.Status)
	}
	ctx := context.Background()
	if err := f.eng.Decide(ctx, stage(st, "eu").Execution, engine.Decision{Approve: true, By: "sre"}); err != nil {
		t.Fatal(err)
	}
	_, st = f.waitRun(run.ID, "eu succeeded", func(_ store.PipelineRun, st pipeline.State) bool {
		return stage(st, "eu").Status == pipeline.StageSucceeded
	})
	if g, us := stage(st, "global"), stage(st, "us"); g.Status != pipeline.StagePending || us.Status != pipeline.StageRunning {
		t.Fatalf("after eu only: global %s, us %s; want global held at the barrier", g.Status, us.Status)
	}
	if err := f.eng.Decide(ctx, stage(st, "us").Execution, engine.Decision{Approve: true, By: "sre"}); err != nil {
		t.Fatal(err)
	}
	run, st = f.waitEnd(run.ID)
	if run.Status != store.StatusSucceeded {
		t.Fatalf("run ended %s (%s)\n%s", run.Status, run.Reason, logOf(st))
	}
	g, eu, us := stage(st, "global"), stage(st, "eu"), stage(st, "us")
	if g.StartAt.Before(eu.FinishedAt) || g.StartAt.Before(us.FinishedAt) {
		t.Fatalf("global started at %v, before eu (%v) or us (%v) finished", g.StartAt, eu.FinishedAt, us.FinishedAt)
	}
	for _, env := range []string{"eu", "us", "production"} {
		if got := f.service(env, "shop").Artifact; got != "shop:v3" {
			t.Fatalf("%s serves %s, want shop:v3", env, got)
		}
	}
}

// TestNoProductionThroughAPipeline: a person who may not deploy to production
// cannot start a pipeline with a production stage; and when their role is taken
// away while the run waits at the gate, production never starts.
func TestNoProductionThroughAPipeline(t *testing.T) {
	f := newFixture(t)
	f.apply(documents(f.check))
	canProd := map[string]bool{"alice": true}
	f.authorize = func(_ context.Context, id auth.Identity, env, action string) error {
		if env == "production" && !canProd[id.User] {
			return fmt.Errorf("%s: %w", action, errNoProd)
		}
		return nil
	}
	if _, err := f.run("release", "dave", map[string]string{"artifact": "shop:v1"}); !errors.Is(err, errNoProd) {
		t.Fatalf("dave's run: %v, want refused for production", err)
	}
	runs, _ := f.st.ListPipelineRuns(context.Background(), store.PipelineRunFilter{})
	if len(runs) != 0 {
		t.Fatalf("a refused run was stored: %+v", runs)
	}
	run, err := f.run("release", "alice", map[string]string{"artifact": "shop:v1"})
	if err != nil {
		t.Fatal(err)
	}
	f.waitRun(run.ID, "production gated", func(r store.PipelineRun, _ pipeline.State) bool { return r.Status == store.StatusWaiting })
	delete(canProd, "alice") // her grant is revoked while the run waits
	if err := f.decide(run.ID, "production", "carol", true); err != nil {
		t.Fatal(err)
	}
	run, st := f.waitEnd(run.ID)
	prod := stage(st, "production")
	if run.Status != store.StatusFailed || prod.Execution != "" || !strings.Contains(prod.Reason, "forbidden") {
		t.Fatalf("run %s (%s), production %+v: want failed without a production execution", run.Status, run.Reason, prod)
	}
	if exs, _ := f.st.ListExecutions(context.Background(), store.ExecutionFilter{Environment: "production"}); len(exs) != 0 {
		t.Fatalf("production has executions: %d", len(exs))
	}
}

// TestRejectAndAbort: a rejection fails the gated stage (production never runs); an
// abort while staging waits skips what has not started.
func TestRejectAndAbort(t *testing.T) {
	f := newFixture(t)
	f.apply(documents(f.check))
	run, err := f.run("release", "alice", map[string]string{"artifact": "shop:v1"})
	if err != nil {
		t.Fatal(err)
	}
	f.waitRun(run.ID, "production gated", func(r store.PipelineRun, _ pipeline.State) bool { return r.Status == store.StatusWaiting })
	if err := f.decide(run.ID, "production", "carol", false); err != nil {
		t.Fatal(err)
	}
	run, st := f.waitEnd(run.ID)
	if p := stage(st, "production"); run.Status != store.StatusFailed || p.Execution != "" || !strings.Contains(p.Reason, "rejected by carol") {
		t.Fatalf("after a rejection: run %s, production %+v", run.Status, p)
	}
	if err := f.decide(run.ID, "production", "carol", true); !errors.Is(err, engine.ErrInvalidState) {
		t.Fatalf("approval of an ended run: %v", err)
	}

	run2, err := f.run("regions", "alice", map[string]string{"artifact": "shop:v2"})
	if err != nil {
		t.Fatal(err)
	}
	_, st = f.waitRun(run2.ID, "eu waiting", func(_ store.PipelineRun, st pipeline.State) bool {
		return stage(st, "eu").ExecStatus == store.StatusWaiting
	})
	if err := f.runner.Abort(context.Background(), run2.ID, "alice", "wrong build"); err != nil {
		t.Fatal(err)
	}
	run2, st = f.waitEnd(run2.ID)
	if run2.Status != store.StatusAborted || stage(st, "global").Status != pipeline.StageSkipped {
		t.Fatalf("after abort: %s, global %s\n%s", run2.Status, stage(st, "global").Status, logOf(st))
	}
	if ex, _ := f.st.GetExecution(context.Background(), stage(st, "eu").Execution); ex.Status != store.StatusRolledBack {
		t.Fatalf("eu's execution after the abort: %s, want rolled back", ex.Status)
	}
}

const soakPipelines = `apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: soak-short}
spec:
  variables: [{name: artifact, type: string, required: true}]
  stages:
    - {name: staging, workflow: shop, environment: staging}
    - {name: production, workflow: shop, environment: production, gates: [{soak: 300ms}]}
---
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: soak-long}
spec:
  variables: [{name: artifact, type: string, required: true}]
  stages:
    - {name: staging, workflow: shop, environment: staging}
    - {name: production, workflow: shop, environment: production, gates: [{soak: 1h}]}
`

// TestSoakGate: production starts only once staging has run for the soak; and a
// soak fails when another release changes staging's service meanwhile.
func TestSoakGate(t *testing.T) {
	f := newFixture(t)
	f.apply(documents(f.check))
	f.apply(soakPipelines)
	run, err := f.run("soak-short", "alice", map[string]string{"artifact": "shop:v1"})
	if err != nil {
		t.Fatal(err)
	}
	run, st := f.waitEnd(run.ID)
	stg, prod := stage(st, "staging"), stage(st, "production")
	if run.Status != store.StatusSucceeded || prod.StartAt.Sub(stg.FinishedAt) < 300*time.Millisecond {
		t.Fatalf("run %s; production started %v after staging finished, want the 300ms soak between\n%s", run.Status, prod.StartAt.Sub(stg.FinishedAt), logOf(st))
	}

	run, err = f.run("soak-long", "alice", map[string]string{"artifact": "shop:v2"})
	if err != nil {
		t.Fatal(err)
	}
	f.waitRun(run.ID, "soaking", func(_ store.PipelineRun, st pipeline.State) bool {
		return stage(st, "production").Status == pipeline.StageGated
	})
	other, err := f.eng.Start(context.Background(), engine.StartRequest{Workflow: "shop", Variables: map[string]string{"env": "staging", "artifact": "shop:v9"}, StartedBy: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	run, st = f.waitEnd(run.ID)
	if p := stage(st, "production"); run.Status != store.StatusFailed || p.Execution != "" || !strings.Contains(p.Reason, "changed by execution "+other.ID) {
		t.Fatalf("run %s (%s), production %+v: want the soak failed by %s", run.Status, run.Reason, p, other.ID)
	}
}
