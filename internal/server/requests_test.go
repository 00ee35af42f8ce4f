package server

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/store/postgres/pgtest"
)

// gatedFiles is a release that waits for an approval with 10% on the new slot.
func gatedFiles(effects string) string {
	return perServiceRelease(effects, "gated", `    - name: canary
      steps:
        - deploy: {instances: 2}
        - traffic: 10%
        - approval: {approvers: [tester], timeout: 1h}
    - name: promote
      steps:
        - traffic: 100%
        - promote: {}
`)
}

// TestRequestsReachAnyServerOnPostgreSQL runs three servers on one PostgreSQL
// database; every execution is driven by the first. An approval sent to the second
// server and a rollback sent to the third are carried out by the first; then the
// first is SIGKILLed and an approval sent to the second while nobody drives the
// execution is carried out by the server that takes it over. Each request is carried
// out exactly once: one approval record, one rollback, each side effect once.
func TestRequestsReachAnyServerOnPostgreSQL(t *testing.T) {
	dsn := pgtest.DSN(t)
	effects := filepath.Join(t.TempDir(), "effects.jsonl")
	env := []string{"SLUICE_TEST_DATABASE_URL=" + dsn, "SLUICE_TEST_LEASE=" + failoverLease.String()}
	a := startChild(t, t.TempDir(), "", env...)
	b := startChild(t, t.TempDir(), "", env...)
	c := startChild(t, t.TempDir(), "", env...)
	ctx := context.Background()
	if _, err := a.client.Apply(ctx, "gated.yaml", []byte(gatedFiles(effects)), false); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, svc := range []string{"approved", "rolled", "orphaned"} {
		ex, err := a.client.Run(ctx, "gated", 0, map[string]string{"svc": svc})
		if err != nil {
			t.Fatal(err)
		}
		ids[svc] = ex.ID
		waitStatus(t, a, ex.ID, "waiting")
	}

	if err := b.client.Approve(ctx, ids["approved"], "looks good"); err != nil {
		t.Fatalf("approve through a server that does not drive the execution: %v", err)
	}
	if got := waitTerminal(t, b, ids["approved"]); got.Status != "succeeded" {
		t.Fatalf("approved execution: %s (%s)", got.Status, got.Reason)
	}
	if err := c.client.Rollback(ctx, ids["rolled"], "p99 up"); err != nil {
		t.Fatalf("rollback through a server that does not drive the execution: %v", err)
	}
	if got := waitTerminal(t, c, ids["rolled"]); got.Status != "rolled_back" || !strings.Contains(got.Reason, "p99 up") {
		t.Fatalf("rolled back execution: %s (%s)", got.Status, got.Reason)
	}

	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.exited
	if err := b.client.Approve(ctx, ids["orphaned"], "while its server is down"); err != nil {
		t.Fatalf("approve while the owner is dead: %v", err)
	}
	if got := waitTerminal(t, b, ids["orphaned"]); got.Status != "succeeded" {
		t.Fatalf("execution approved while its owner was dead: %s (%s)", got.Status, got.Reason)
	}

	for _, svc := range []string{"approved", "orphaned"} {
		if n := approvals(t, c, ids[svc]); n != 1 {
			t.Errorf("%s: %d approval records, want exactly 1", svc, n)
		}
	}
	recorded, err := recorder.ReadEffects(effects)
	if err != nil {
		t.Fatal(err)
	}
	// 10%, 100% and the promotion's confirmation; a first release that rolls back has
	// no live slot to send traffic back to, so it only scales the new slot down.
	want := map[string]string{"approved": "deploy,weights,weights,weights", "rolled": "deploy,weights,scale",
		"orphaned": "deploy,weights,weights,weights"}
	got := map[string][]string{}
	seen := map[string]bool{}
	for _, e := range recorded {
		if seen[e.Key] {
			t.Errorf("effect %s applied twice", e.Key)
		}
		seen[e.Key] = true
		got[e.Service] = append(got[e.Service], e.Op)
	}
	for svc, ops := range want {
		if g := strings.Join(got[svc], ","); g != ops {
			t.Errorf("%s: effects %s, want %s", svc, g, ops)
		}
	}
}

// waitStatus waits until an execution has the given status.
func waitStatus(t *testing.T, c *child, id, status string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		ex, err := c.client.GetExecution(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if string(ex.Status) == status {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("execution %s never became %s\n%s", id, status, c.stderr)
}

// approvals counts the decisions recorded in an execution's state.
func approvals(t *testing.T, c *child, id string) int {
	t.Helper()
	ex, err := c.client.GetExecution(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var st engine.State
	if err := json.Unmarshal(ex.State, &st); err != nil {
		t.Fatalf("state of %s: %v", id, err)
	}
	return len(st.Approvals)
}
