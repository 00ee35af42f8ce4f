package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/engine"
	"github.com/sluicehq/sluice/internal/engine/enginetest"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/postgres"
	"github.com/sluicehq/sluice/internal/store/postgres/pgtest"
)

// pgServers is two engines on one PostgreSQL schema: a drives the executions and
// LISTENs for requests, b is the server people's requests reach, which LISTENs for
// their answers.
type pgServers struct {
	h     *harness
	st    *postgres.Store
	admin *pgx.Conn // sees and ends the listener's connection
	a, b  *engine.Engine
	owner string // a's name, unique: NOTIFY reaches every schema of the database
}

// newPGServers starts a with the given request poll and a listener that waits retry
// before reconnecting, and b with the given poll (its wait for answers polls at half
// of it).
func newPGServers(t *testing.T, requestPoll, bPoll, retry time.Duration) *pgServers {
	t.Helper()
	dsn := pgtest.DSN(t)
	st, err := postgres.Open(context.Background(), dsn)
	must(t, err)
	t.Cleanup(func() { st.Close() })
	admin, err := pgx.Connect(context.Background(), dsn)
	must(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	h := &harness{enginetest.NewOn(t, st, t.TempDir(), engine.Options{})}
	h.Engine.Close()
	h.Apply(canaryYAML)
	s := &pgServers{h: h, st: st, admin: admin, owner: fmt.Sprintf("listen-a-%d", time.Now().UnixNano())}
	s.a = s.engine(s.owner, 5*time.Millisecond, requestPoll)
	s.b = s.engine(s.owner+"-b", bPoll, 0)
	s.listen(t, postgres.RequestListener{Owner: s.owner, Wake: s.a.WakeRequests, Retry: retry})
	s.listen(t, postgres.RequestListener{Owner: s.owner + "-b", Wake: s.b.WakeRequests, Answered: s.b.WakeAnswer})
	return s
}

// listen runs a listener until the test ends.
func (s *pgServers) listen(t *testing.T, l postgres.RequestListener) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.st.ListenRequests(ctx, l)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (s *pgServers) engine(owner string, poll, requestPoll time.Duration) *engine.Engine {
	s.h.T.Helper()
	eng, err := engine.New(engine.Options{
		Store: s.st, Resolver: enginetest.Resolver{Runtime: engine.Runtime{Platform: s.h.Recorder, Router: s.h.Recorder}},
		Owner: owner, PollInterval: poll, RetryBackoff: 5 * time.Millisecond, RequestPoll: requestPoll,
		Publisher: s.h.Publisher(),
	})
	must(s.h.T, err)
	s.h.T.Cleanup(eng.Close)
	return eng
}

// listener returns the backend of a's listener once one LISTENs (other than not),
// or 0 when want is false and none is connected.
func (s *pgServers) listener(t *testing.T, want bool, not uint32) uint32 {
	t.Helper()
	for limit := time.Now().Add(10 * time.Second); ; {
		var pid uint32
		err := s.admin.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
			WHERE application_name = $1 AND query LIKE 'LISTEN%' AND pid <> $2`,
			postgres.ListenerApplication+s.owner, not).Scan(&pid)
		switch {
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			t.Fatal(err)
		case want && err == nil, !want && err != nil:
			return pid
		case time.Now().After(limit):
			t.Fatalf("listener of %s: want connected %v, have backend %d", s.owner, want, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cut ends the listener's connection from the server side.
func (s *pgServers) cut(t *testing.T, pid uint32) {
	t.Helper()
	if _, err := s.admin.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
}

// start runs the canary until its approval waits, driven by a.
func (s *pgServers) start(t *testing.T) store.Execution {
	t.Helper()
	ex, err := s.a.Start(context.Background(), engine.StartRequest{Workflow: "shop", Variables: map[string]string{"artifact": "shop:v1"}})
	must(t, err)
	s.h.WaitFor(ex.ID, store.StatusWaiting)
	return ex
}

// TestNotifyWakesTheOwnerOnPostgreSQL: a server that polls for requests only once an
// hour carries out requests sent to another server anyway, because the NOTIFY of
// AddRequest wakes it; a lost LISTEN connection is reopened and wakes it again. The
// other server, which polls for answers only every half hour, returns each answer
// because the NOTIFY of AnswerRequest wakes it. A request not carried out and
// answered within requestWait would fail with ErrRequestPending.
func TestNotifyWakesTheOwnerOnPostgreSQL(t *testing.T) {
	s := newPGServers(t, time.Hour, time.Hour, 10*time.Millisecond)
	first := s.listener(t, true, 0)
	ex := s.start(t)
	must(t, s.b.Decide(context.Background(), ex.ID, engine.Decision{Approve: true, By: "alice"}))
	if got := s.h.finish2(s.a, ex.ID); got.Status != store.StatusSucceeded || got.Owner != s.owner {
		t.Fatalf("%s owned by %s (%s)", got.Status, got.Owner, got.Reason)
	}

	s.cut(t, first)
	s.listener(t, true, first) // back on a new connection
	ex = s.start(t)
	must(t, s.b.Rollback(context.Background(), ex.ID, "bob", "p99 up"))
	if got := s.h.finish2(s.a, ex.ID); got.Status != store.StatusRolledBack {
		t.Fatalf("%s (%s)", got.Status, got.Reason)
	}
}

// TestPollingDeliversWhileTheListenerIsDown: with its LISTEN connection lost and not
// back for an hour, the owner still carries out a request sent to another server,
// through its RequestPoll.
func TestPollingDeliversWhileTheListenerIsDown(t *testing.T) {
	s := newPGServers(t, 20*time.Millisecond, 5*time.Millisecond, time.Hour)
	s.cut(t, s.listener(t, true, 0))
	s.listener(t, false, 0)
	ex := s.start(t)
	must(t, s.b.Decide(context.Background(), ex.ID, engine.Decision{Approve: true, By: "alice"}))
	if got := s.h.finish2(s.a, ex.ID); got.Status != store.StatusSucceeded {
		t.Fatalf("%s (%s)", got.Status, got.Reason)
	}
	s.listener(t, false, 0) // still down: polling carried it out
}
