package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/recorder"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/postgres/pgtest"
)

const failoverLease = time.Second

// failoverFiles records into one file shared by every server, so a test can count
// each side effect across servers.
func failoverFiles(effects string) string {
	return perServiceRelease(effects, "release", `    - name: setup
      steps:
        - wait: 500ms
        - deploy: {instances: 2}
    - name: canary
      steps:
        - traffic: 10%
        - wait: 400ms
        - traffic: 50%
        - wait: 400ms
    - name: promote
      steps:
        - promote: {}
`)
}

// TestFailoverOnPostgreSQL runs three servers on one PostgreSQL database, starts
// executions on the first, and kills owners with SIGKILL at different points: the
// first at a journal boundary between a side effect and its journal entry, the next
// one at a random moment. The survivors take every execution over within the lease
// and finish it, with each side effect applied exactly once.
func TestFailoverOnPostgreSQL(t *testing.T) {
	dsn := pgtest.DSN(t)
	shared := t.TempDir()
	effects := filepath.Join(shared, "effects.jsonl")
	env := []string{"SLUICE_TEST_DATABASE_URL=" + dsn, "SLUICE_TEST_LEASE=" + failoverLease.String()}
	a := startChild(t, t.TempDir(), "effect.applied:9", env...)
	b := startChild(t, t.TempDir(), "", env...)
	c := startChild(t, t.TempDir(), "", env...)
	ctx := context.Background()
	if _, err := a.client.Apply(ctx, "failover.yaml", []byte(failoverFiles(effects)), false); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var ids []string
	for i := range n {
		ex, err := a.client.Run(ctx, "release", 0, map[string]string{"svc": fmt.Sprintf("svc-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ex.ID)
	}
	a.waitKilled(t)
	died := time.Now()
	waitOwnedBy(t, b, ids, b.id(t), c.id(t))
	t.Logf("first owner killed at its 9th side effect; all %d executions taken over %s later (lease %s)", n, time.Since(died).Round(time.Millisecond), failoverLease)

	// Kill the server that now owns more executions, at a random moment.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	victim, survivor := b, c
	if owned(t, b, ids, b.id(t)) < owned(t, b, ids, c.id(t)) {
		victim, survivor = c, b
	}
	victim.cmd.Process.Signal(syscall.SIGKILL)
	<-victim.exited
	died = time.Now()
	waitOwnedBy(t, survivor, ids, survivor.id(t))
	t.Logf("second owner killed at random; its executions taken over %s later", time.Since(died).Round(time.Millisecond))

	for _, id := range ids {
		got := waitTerminal(t, survivor, id)
		if got.Status != string(store.StatusSucceeded) {
			t.Fatalf("execution %s: %s (%s)", id, got.Status, got.Reason)
		}
	}
	checkEffectsOnce(t, effects, n)
}

// id is the server ID the child keeps in its data directory.
func (c *child) id(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "server-id"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// waitOwnedBy waits until every execution that is not finished is owned by one of
// the live servers, failing after three lease periods.
func waitOwnedBy(t *testing.T, c *child, ids []string, live ...string) {
	t.Helper()
	deadline := time.Now().Add(3 * failoverLease)
	for time.Now().Before(deadline) {
		moved := 0
		for _, id := range ids {
			ex, err := c.client.GetExecution(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(live, ex.Owner) || store.Status(ex.Status).Terminal() {
				moved++
			}
		}
		if moved == len(ids) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("executions not taken over within %s\n%s", 3*failoverLease, c.stderr)
}

// owned counts the executions the server with the given ID owns.
func owned(t *testing.T, c *child, ids []string, server string) int {
	t.Helper()
	n := 0
	for _, id := range ids {
		ex, err := c.client.GetExecution(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Owner == server {
			n++
		}
	}
	return n
}

// checkEffectsOnce reads the shared recording and checks that every key was applied
// once and each service got its deployment, three weight writes and nothing else.
func checkEffectsOnce(t *testing.T, path string, n int) {
	t.Helper()
	effects, err := recorder.ReadEffects(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	perService := map[string][]string{}
	for _, e := range effects {
		if keys[e.Key] {
			t.Errorf("effect %s applied twice", e.Key)
		}
		keys[e.Key] = true
		perService[e.Service] = append(perService[e.Service], e.Op)
	}
	if len(perService) != n {
		t.Fatalf("effects for %d services, want %d", len(perService), n)
	}
	for svc, ops := range perService {
		sort.Strings(ops)
		if got := strings.Join(ops, ","); got != "deploy,weights,weights,weights" {
			t.Errorf("%s: effects %s, want one deploy and three weight writes", svc, got)
		}
	}
}
