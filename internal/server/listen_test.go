package server

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/internal/store/postgres/pgtest"
)

// TestServersListenForRequestsOnPostgreSQL runs two servers that read stored
// requests only once an hour: an approval and a rollback sent to the second are
// carried out by the first all the same, because the PostgreSQL NOTIFY of the stored
// request wakes it (listen.go). Without the wake each would wait for the hour.
func TestServersListenForRequestsOnPostgreSQL(t *testing.T) {
	a, b := listeningServers(t, "SLUICE_TEST_REQUEST_POLL=1h", gatedFiles)
	ctx := context.Background()
	ids := map[string]string{}
	for _, svc := range []string{"approved", "rolled"} {
		ex, err := a.client.Run(ctx, "gated", 0, map[string]string{"svc": svc})
		if err != nil {
			t.Fatal(err)
		}
		ids[svc] = ex.ID
		waitStatus(t, a, ex.ID, "waiting")
	}
	if err := b.client.Approve(ctx, ids["approved"], "looks good"); err != nil {
		t.Fatalf("approve through the server that does not drive the execution: %v", err)
	}
	if err := b.client.Rollback(ctx, ids["rolled"], "p99 up"); err != nil {
		t.Fatalf("rollback through the server that does not drive the execution: %v", err)
	}
	if got := waitTerminal(t, b, ids["approved"]); got.Status != "succeeded" {
		t.Fatalf("approved execution: %s (%s)", got.Status, got.Reason)
	}
	if got := waitTerminal(t, b, ids["rolled"]); got.Status != "rolled_back" {
		t.Fatalf("rolled back execution: %s (%s)", got.Status, got.Reason)
	}
}

// listeningServers starts two servers on one PostgreSQL database, with pollEnv (an
// hour-long poll: only a NOTIFY makes them quick), and applies files through the first.
func listeningServers(t *testing.T, pollEnv string, files func(effects string) string) (a, b *child) {
	t.Helper()
	env := []string{"SLUICE_TEST_DATABASE_URL=" + pgtest.DSN(t), pollEnv}
	a, b = startChild(t, t.TempDir(), "", env...), startChild(t, t.TempDir(), "", env...)
	effects := filepath.Join(t.TempDir(), "effects.jsonl")
	if _, err := a.client.Apply(context.Background(), "files.yaml", []byte(files(effects)), false); err != nil {
		t.Fatal(err)
	}
	return a, b
}
