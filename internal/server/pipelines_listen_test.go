package server

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/api"
	"github.com/sluicehq/sluice/internal/client"
	"github.com/sluicehq/sluice/internal/events"
)

// shipPipeline releases gatedFiles' workflow once tester approved its one stage.
const shipPipeline = `---
apiVersion: sluice.dev/v1alpha1
kind: Pipeline
metadata: {name: ship}
spec:
  variables: [{name: svc, type: string, required: true}]
  stages: [{name: prod, workflow: gated, environment: prod, gates: [{approval: {approvers: [tester]}}]}]
`

// TestPipelineDecisionsReachTheOwnerOnPostgreSQL runs two servers on one PostgreSQL
// database whose pipeline runs look at their stages only once an hour. Every run is
// started on (and driven by) the first; an approval, a rejection and an abort sent
// to the second are carried out by the first all the same, because the second
// announces them with a NOTIFY that wakes the first (listen.go). The second server's
// event stream of a run shows what the first wrote, though nothing was published
// there.
func TestPipelineDecisionsReachTheOwnerOnPostgreSQL(t *testing.T) {
	a, b := listeningServers(t, "SLUICE_TEST_PIPELINE_POLL=1h", func(effects string) string { return gatedFiles(effects) + shipPipeline })
	ctx := context.Background()
	runs := map[string]api.PipelineRun{}
	for _, svc := range []string{"approved", "rejected", "aborted"} {
		run, err := a.client.RunPipeline(ctx, "ship", 0, map[string]string{"svc": svc})
		if err != nil {
			t.Fatal(err)
		}
		runs[svc] = run
		// the first look (at once, on start) puts the stage behind its gate
		waitEvent(t, b.client, run.ID, events.TypePipelineStatus)
	}

	if err := b.client.ApprovePipeline(ctx, runs["approved"].ID, "prod", "looks good"); err != nil {
		t.Fatalf("approve through a server that does not drive the run: %v", err)
	}
	started := waitEvent(t, b.client, runs["approved"].ID, events.TypePipelineStageStarted)
	run, err := b.client.GetPipelineRun(ctx, runs["approved"].ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Owner == "" || run.Stages[0].Execution == "" || started.Step != "prod" {
		t.Fatalf("approved run: owner %q, stage %+v, event %+v", run.Owner, run.Stages[0], started)
	}
	// the stage's execution runs (to its own approval step)
	waitStatus(t, b, run.Stages[0].Execution, "waiting")

	if err := b.client.RejectPipeline(ctx, runs["rejected"].ID, "prod", "not today"); err != nil {
		t.Fatalf("reject through a server that does not drive the run: %v", err)
	}
	if end := waitEvent(t, b.client, runs["rejected"].ID, events.TypePipelineFinished); end.Level != "error" {
		t.Fatalf("rejected run ended with %+v", end)
	}
	if err := b.client.AbortPipeline(ctx, runs["aborted"].ID, "wrong svc"); err != nil {
		t.Fatalf("abort through a server that does not drive the run: %v", err)
	}
	waitEvent(t, b.client, runs["aborted"].ID, events.TypePipelineFinished)
	for svc, want := range map[string]string{"rejected": "failed", "aborted": "aborted"} {
		run, err := a.client.GetPipelineRun(ctx, runs[svc].ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(run.Status) != want || run.Owner != runs[svc].Owner {
			t.Fatalf("%s run: %s (%s) owned by %q, want %s by %q", svc, run.Status, run.Reason, run.Owner, want, runs[svc].Owner)
		}
	}
}

// waitEvent follows a run's event stream from its start until an event of type
// want, and returns it.
func waitEvent(t *testing.T, c *client.Client, id string, want events.Type) api.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for e, err := range c.FollowPipelineRun(ctx, id, 0) {
		if err != nil {
			t.Fatalf("run %s: no %s event: %v", id, want, err)
		}
		if e.Type == want {
			return e
		}
	}
	t.Fatalf("run %s ended without a %s event", id, want)
	return api.Event{}
}
