package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/auth"
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
