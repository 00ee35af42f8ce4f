package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/internal/store"
)

func ids(es []store.Execution) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// testLeaseClaim: free and expired executions are claimed, live leases are not, a
// claim bumps the version so the previous owner's next write conflicts.
func testLeaseClaim(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := newExec("a", "prod", "shop", 0)
	a.Owner, a.LeaseUntil = "server-1", at(10)
	create(t, s, a)
	b := newExec("b", "prod", "cart", 1) // unowned
	create(t, s, b)
	done := newExec("c", "prod", "pay", 2)
	done.Status = store.StatusSucceeded
	create(t, s, done)

	got, err := s.GetExecution(ctx, "a")
	if err != nil || got.Owner != "server-1" || !got.LeaseUntil.Equal(at(10)) {
		t.Fatalf("get a: %+v %v: want owner and lease kept", got, err)
	}
	claimed, err := s.ClaimExecutions(ctx, store.ClaimRequest{Owner: "server-2", Now: at(5), Until: at(20)})
	if err != nil || !slices.Equal(ids(claimed), []string{"b"}) {
		t.Fatalf("claim at 5: %v %v, want only the unowned b", ids(claimed), err)
	}
	if c := claimed[0]; c.Owner != "server-2" || !c.LeaseUntil.Equal(at(20)) || c.Version != 2 {
		t.Fatalf("claimed b: %+v", c)
	}
	claimed, err = s.ClaimExecutions(ctx, store.ClaimRequest{Owner: "server-2", Now: at(11), Until: at(21)})
	if err != nil || !slices.Equal(ids(claimed), []string{"a"}) {
		t.Fatalf("claim at 11: %v %v, want the expired a", ids(claimed), err)
	}
	a.Status = store.StatusFailed
	err = s.Commit(ctx, &store.Commit{Execution: a})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("write by the previous owner: %v, want a conflict", err)
	}
	got, _ = s.GetExecution(ctx, "a")
	if got.Status != store.StatusRunning || got.Owner != "server-2" {
		t.Fatalf("a after the stale write: %s owned by %s", got.Status, got.Owner)
	}
	// An update through Commit keeps the lease as the store has it.
	got.Reason = "still going"
	if err := s.Commit(ctx, &store.Commit{Execution: &got}); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.GetExecution(ctx, "a"); again.Owner != "server-2" || !again.LeaseUntil.Equal(at(21)) {
		t.Fatalf("lease after an update: %s until %v", again.Owner, again.LeaseUntil)
	}
}

// testLeaseRenewAndOwn: only the owner renews; Own re-claims one's own executions.
func testLeaseRenewAndOwn(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for i, id := range []string{"a", "b"} {
		e := newExec(id, "prod", "svc-"+id, i)
		e.Owner, e.LeaseUntil = "server-1", at(10)
		create(t, s, e)
	}
	renewed, err := s.RenewLeases(ctx, "server-2", []string{"a", "b"}, at(30))
	if err != nil || len(renewed) != 0 {
		t.Fatalf("renew by a stranger: %v %v", renewed, err)
	}
	renewed, err = s.RenewLeases(ctx, "server-1", []string{"a", "b", "missing"}, at(30))
	slices.Sort(renewed)
	if err != nil || !slices.Equal(renewed, []string{"a", "b"}) {
		t.Fatalf("renew by the owner: %v %v", renewed, err)
	}
	if got, _ := s.GetExecution(ctx, "a"); got.Version != 1 || !got.LeaseUntil.Equal(at(30)) {
		t.Fatalf("renewed a: version %d lease %v; renewal must not change the version", got.Version, got.LeaseUntil)
	}
	claimed, err := s.ClaimExecutions(ctx, store.ClaimRequest{Owner: "server-1", Now: at(11), Until: at(40)})
	if err != nil || len(claimed) != 0 {
		t.Fatalf("claim of live leases without Own: %v %v", ids(claimed), err)
	}
	claimed, err = s.ClaimExecutions(ctx, store.ClaimRequest{Owner: "server-1", Now: at(11), Until: at(40), Own: true, Limit: 1})
	if err != nil || !slices.Equal(ids(claimed), []string{"a"}) {
		t.Fatalf("claim own with limit 1: %v %v", ids(claimed), err)
	}
}

// testConcurrentClaims: servers claiming at once never claim the same execution.
func testConcurrentClaims(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const n = 60
	for i := range n {
		create(t, s, newExec(fmt.Sprintf("e%02d", i), "prod", fmt.Sprintf("svc-%d", i), i))
	}
	var mu sync.Mutex
	owners := map[string]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			owner := fmt.Sprintf("server-%d", w)
			for range 10 {
				claimed, err := s.ClaimExecutions(ctx, store.ClaimRequest{Owner: owner, Now: at(0), Until: at(100), Limit: 3})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, e := range claimed {
					if prev, ok := owners[e.ID]; ok {
						t.Errorf("%s claimed by %s and %s", e.ID, prev, owner)
					}
					owners[e.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(owners) != n {
		t.Fatalf("%d of %d executions claimed", len(owners), n)
	}
}
