package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/events"
	"github.com/sluicehq/sluice/internal/pipeline"
	"github.com/sluicehq/sluice/internal/store"
)

const pipelineDocs = `apiVersion: sluice.dev/v1alpha1
kind: Environment
metadata: {name: production}
spec:
  platform: {type: recorder, recorder: {file: p.jsonl}}
  router: {type: recorder, recorder: {file: p.jsonl}}
---
apiVersion: sluice.dev/v1alpha1
kind: Workflow
metadata: {name: shop}
spec:
  environment: ${env}
  variables:
    - {name: env, type: string, required: true}
    - {name: artifact, type: string, required: true}
  service: {name: shop, port: 8080, artifact: "${artifact}"}
  phases: [{name: p, steps: [{deploy: {instances: 1}}, {traffic: 100%}, {promote: {}}]}]
---
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: release}
spec:
  variables: [{name: artifact, type: string, required: true}]
  stages:
    - {name: staging, workflow: shop, environment: staging}
    - name: production
      workflow: shop
      environment: production
      gates: [{approval: {approvers: [carol]}}]
`

// withPipelines runs pipelines as the server does: a stage starts only for a person
// who may deploy to its environment.
func withPipelines(t *testing.T) func(*api.Deps) {
	return func(d *api.Deps) {
		ps := d.Store.(pipeline.Store)
		svc := d.Auth
		r, err := pipeline.New(pipeline.Options{Store: ps, Engine: d.Engine.(pipeline.Engine),
			Authorize: func(ctx context.Context, id auth.Identity, env, action string) error {
				return svc.Authorize(ctx, id, auth.RoleDeployer, env, action)
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		d.Pipelines = r
	}
}

// TestPipelineRoles: dave, a deployer in staging only, cannot reach production
// through a pipeline: his run is refused (403 naming production) and nothing is
// stored; alice, a deployer everywhere, starts it. Approving its gate needs approver
// in production.
func TestPipelineRoles(t *testing.T) {
	h := newAuthHarness(t, withPipelines(t))
	h.user("root", auth.RoleAdmin, "*")
	h.user("dave", auth.RoleDeployer, "staging")
	h.user("alice", auth.RoleDeployer, "*")
	h.seedDefinitions()
	if code, b := h.as("root", "POST", "/api/v1/apply?file=release.yaml", pipelineDocs); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, b)
	}
	code, b := h.as("dave", "POST", "/api/v1/pipelines/release/run", `{"variables":{"artifact":"shop:v2"}}`, "Content-Type: application/json")
	if code != http.StatusForbidden || !strings.Contains(string(b), "production") {
		t.Fatalf("dave's run: %d %s; want 403 naming production", code, b)
	}
	if runs, _ := h.sqlite.ListPipelineRuns(context.Background(), store.PipelineRunFilter{}); len(runs) != 0 {
		t.Fatalf("a refused run was stored: %+v", runs)
	}
	code, b = h.as("alice", "POST", "/api/v1/pipelines/release/run", `{"variables":{"artifact":"shop:v2"}}`, "Content-Type: application/json")
	if code != http.StatusCreated || !strings.Contains(string(b), `"startedBy": "alice"`) {
		t.Fatalf("alice's run: %d %s", code, b)
	}
	code, b = h.as("alice", "GET", "/api/v1/pipeline-runs", "")
	if code != http.StatusOK || !strings.Contains(string(b), `"pipeline": "release"`) {
		t.Fatalf("list: %d %s", code, b)
	}
}

// TestApplyRejectsBadPipelines: a pipeline naming a workflow or environment that
// does not exist is refused with positions, and nothing is stored.
func TestApplyRejectsBadPipelines(t *testing.T) {
	h := newHarness(t)
	bad := strings.Replace(strings.Replace(pipelineDocs, "workflow: shop, environment: staging", "workflow: shopp, environment: staging", 1),
		"environment: production\n      gates", "environment: prod\n      gates", 1)
	code, b := h.do("POST", "/api/v1/apply?file=release.yaml", bad)
	if code != http.StatusBadRequest {
		t.Fatalf("apply: %d %s", code, b)
	}
	for _, want := range []string{`no workflow named \"shopp\"`, `no environment named \"staging\"`, `no environment named \"prod\"`, `"line": 25`, `"line": 28`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("answer lacks %s: %s", want, b)
		}
	}
	if defs, _ := h.store.ListDefinitions(context.Background(), store.KindPipeline); len(defs) != 0 {
		t.Fatalf("a bad pipeline was stored: %+v", defs)
	}
}

// gatedPipeline holds its only stage for carol's approval.
const gatedPipeline = `apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: gated}
spec:
  variables: [{name: artifact, type: string, required: true}]
  stages: [{name: production, workflow: shop, environment: production, gates: [{approval: {approvers: [carol]}}]}]
`

// TestPipelineRunEvents: a run's log arrives as a stream of typed events, in order,
// live as carol's rejection winds the run down, ending with `end`; a reconnect resumes
// after Last-Event-ID; dave, who cannot view production, gets 404 as for the run.
func TestPipelineRunEvents(t *testing.T) {
	h := newAuthHarness(t, withPipelines(t))
	h.user("root", auth.RoleAdmin, "*")
	h.user("alice", auth.RoleDeployer, "*")
	h.user("carol", auth.RoleApprover, "production")
	h.user("dave", auth.RoleDeployer, "staging")
	h.seedDefinitions()
	if code, b := h.as("root", "POST", "/api/v1/apply?file=release.yaml", pipelineDocs+"---\n"+gatedPipeline); code != http.StatusOK {
		t.Fatalf("apply: %d %s", code, b)
	}
	var run api.PipelineRun
	code, b := h.as("alice", "POST", "/api/v1/pipelines/gated/run", `{"variables":{"artifact":"shop:v2"}}`, "Content-Type: application/json")
	if code != http.StatusCreated {
		t.Fatalf("run: %d %s", code, b)
	}
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/pipeline-runs/" + run.ID + "/events"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ch, resp := h.openStream(ctx, path, "Authorization: Bearer "+h.tokens["alice"])
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	expectTypes(t, ch, events.TypePipelineStarted, events.TypePipelineGateWaiting, events.TypePipelineStatus)
	if code, b := h.as("carol", "POST", "/api/v1/pipeline-runs/"+run.ID+"/reject", `{"stage":"production","comment":"not today"}`, "Content-Type: application/json"); code != http.StatusAccepted {
		t.Fatalf("reject: %d %s", code, b)
	}
	expectTypes(t, ch, events.TypePipelineDecision, events.TypePipelineGateFailed, events.TypePipelineStageFinished, events.TypePipelineFinished)
	expect(t, ch, "end")

	t.Run("resume after Last-Event-ID", func(t *testing.T) {
		ch, _ := h.openStream(ctx, path, "Authorization: Bearer "+h.tokens["alice"], "Last-Event-ID: 5")
		expect(t, ch, "6", "7", "end")
	})
	t.Run("a JSON page without text/event-stream", func(t *testing.T) {
		code, b := h.as("alice", "GET", path+"?after=3&limit=1", "")
		var page api.EventPage
		_ = json.Unmarshal(b, &page)
		if code != http.StatusOK || len(page.Items) != 1 || page.Items[0].Seq != 4 || page.Items[0].Type != events.TypePipelineDecision || page.Status != store.StatusFailed {
			t.Fatalf("page: %d %s", code, b)
		}
	})
	t.Run("404 to who cannot view every environment", func(t *testing.T) {
		if code, b := h.as("dave", "GET", path, "", "Accept: text/event-stream"); code != http.StatusNotFound {
			t.Fatalf("dave: %d %s; want 404 as for GET of the run", code, b)
		}
	})
}

// expectTypes reads the next events and checks their types, and that their ids
// follow each other.
func expectTypes(t *testing.T, ch <-chan sseEvent, want ...events.Type) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for _, w := range want {
		var ev sseEvent // zero when the stream closed
		select {
		case ev = <-ch:
		case <-timeout:
			t.Fatalf("no %s event within 30s", w)
		}
		var e api.Event
		if err := json.Unmarshal([]byte(ev.Data), &e); err != nil || e.Type != w || ev.ID != strconv.FormatInt(e.Seq, 10) {
			t.Fatalf("got event %q %s (%v), want type %s", ev.ID, ev.Data, err, w)
		}
	}
}
