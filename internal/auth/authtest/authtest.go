package authtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store"
)

// Store is what the suite tests: tokens, grants and the audit log.
type Store interface {
	auth.Store
	audit.Store
}

// Run runs the suite; open returns a fresh, empty store for each test.
func Run(t *testing.T, open func(t *testing.T) Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"TokenRoundTrip", testTokenRoundTrip},
		{"TokenConflict", testTokenConflict},
		{"RevokeCascades", testRevokeCascades},
		{"Grants", testGrants},
		{"BootstrapOnce", testBootstrapOnce},
		{"BootstrapAfterRevoke", testBootstrapAfterRevoke},
		{"AuditAppendAndFilter", testAudit},
		{"AuditConcurrent", testAuditConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)

func token(id, user string) auth.Token {
	return auth.Token{ID: id, Hash: "h-" + id, Kind: auth.KindAPI, User: user, Groups: []string{"ops", "sre"},
		Description: "d " + id, CreatedAt: t0, CreatedBy: "root", ExpiresAt: t0.Add(time.Hour)}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testTokenRoundTrip(t *testing.T, s Store) {
	ctx := context.Background()
	want := token("aaaaaaaaaaaa", "alice")
	must(t, s.CreateToken(ctx, want))
	never := token("bbbbbbbbbbbb", "bob")
	never.ExpiresAt, never.Groups, never.Kind, never.Parent = time.Time{}, nil, auth.KindSession, want.ID
	never.CreatedAt = t0.Add(time.Second)
	must(t, s.CreateToken(ctx, never))
	got, err := s.GetToken(ctx, want.ID)
	must(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if _, err := s.GetToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing token: %v, want ErrNotFound", err)
	}
	all, err := s.ListTokens(ctx, "")
	must(t, err)
	if len(all) != 2 || all[0].ID != want.ID || !reflect.DeepEqual(all[1], never) {
		t.Fatalf("list all: %+v", all)
	}
	api, err := s.ListTokens(ctx, auth.KindAPI)
	must(t, err)
	if len(api) != 1 || api[0].ID != want.ID {
		t.Fatalf("list api: %+v", api)
	}
}

func testTokenConflict(t *testing.T, s Store) {
	ctx := context.Background()
	must(t, s.CreateToken(ctx, token("aaaaaaaaaaaa", "alice")))
	if err := s.CreateToken(ctx, token("aaaaaaaaaaaa", "mallory")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate id: %v, want ErrConflict", err)
	}
	got, err := s.GetToken(ctx, "aaaaaaaaaaaa")
	must(t, err)
	if got.User != "alice" {
		t.Fatalf("duplicate overwrote the token: %+v", got)
	}
}

func testRevokeCascades(t *testing.T, s Store) {
	ctx := context.Background()
	parent, other := token("aaaaaaaaaaaa", "alice"), token("cccccccccccc", "carol")
	sess := token("bbbbbbbbbbbb", "alice")
	sess.Kind, sess.Parent = auth.KindSession, parent.ID
	for _, tk := range []auth.Token{parent, sess, other} {
		must(t, s.CreateToken(ctx, tk))
	}
	at := t0.Add(time.Minute)
	got, err := s.RevokeToken(ctx, parent.ID, "root", at)
	must(t, err)
	if !got.RevokedAt.Equal(at) || got.RevokedBy != "root" {
		t.Fatalf("revoked: %+v", got)
	}
	again, err := s.RevokeToken(ctx, parent.ID, "someone", at.Add(time.Hour))
	must(t, err)
	if !again.RevokedAt.Equal(at) || again.RevokedBy != "root" {
		t.Fatalf("second revoke changed the first: %+v", again)
	}
	gs, err := s.GetToken(ctx, sess.ID)
	must(t, err)
	if gs.RevokedAt.IsZero() {
		t.Fatal("the session outlived its token")
	}
	go2, err := s.GetToken(ctx, other.ID)
	must(t, err)
	if !go2.RevokedAt.IsZero() {
		t.Fatal("revoke touched another token")
	}
	if _, err := s.RevokeToken(ctx, "nope", "root", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke missing: %v", err)
	}
}

func testGrants(t *testing.T, s Store) {
	ctx := context.Background()
	gs := []auth.Grant{
		{Subject: "group:ops", Role: auth.RoleApprover, Environment: "prod", CreatedAt: t0, CreatedBy: "root"},
		{Subject: "alice", Role: auth.RoleDeployer, Environment: "staging", CreatedAt: t0, CreatedBy: "root"},
		{Subject: "alice", Role: auth.RoleViewer, Environment: "*", CreatedAt: t0, CreatedBy: "root"},
	}
	for _, g := range gs {
		created, err := s.PutGrant(ctx, g)
		must(t, err)
		if !created {
			t.Fatalf("first put of %+v not created", g)
		}
	}
	created, err := s.PutGrant(ctx, gs[0])
	must(t, err)
	if created {
		t.Fatal("repeated grant reported as created")
	}
	list, err := s.ListGrants(ctx)
	must(t, err)
	want := []auth.Grant{gs[2], gs[1], gs[0]} // subject, environment, role
	if !reflect.DeepEqual(list, want) {
		t.Fatalf("grants:\n got %+v\nwant %+v", list, want)
	}
	must(t, s.DeleteGrant(ctx, gs[1]))
	if err := s.DeleteGrant(ctx, gs[1]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	list, err = s.ListGrants(ctx)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("after delete: %+v", list)
	}
}

func bootstrapPair(id string) (auth.Token, auth.Grant) {
	tk := token(id, "admin")
	tk.ExpiresAt = time.Time{}
	return tk, auth.Grant{Subject: "admin", Role: auth.RoleAdmin, Environment: "*", CreatedAt: t0, CreatedBy: "server"}
}

// testBootstrapOnce races several bootstraps: exactly one stores its token.
func testBootstrapOnce(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tk, g := bootstrapPair(fmt.Sprintf("%012d", i))
			ok, err := s.Bootstrap(ctx, tk, g)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				wins++
			}
		}(i)
	}
	wg.Wait()
	tokens, err := s.ListTokens(ctx, "")
	must(t, err)
	if wins != 1 || len(tokens) != 1 {
		t.Fatalf("%d bootstraps won, %d tokens stored; want 1 and 1", wins, len(tokens))
	}
}

// testBootstrapAfterRevoke: with the only admin token revoked (or expired), a new
// bootstrap is allowed, so nobody is locked out.
func testBootstrapAfterRevoke(t *testing.T, s Store) {
	ctx := context.Background()
	tk, g := bootstrapPair("000000000001")
	ok, err := s.Bootstrap(ctx, tk, g)
	must(t, err)
	if !ok {
		t.Fatal("first bootstrap refused")
	}
	tk2, _ := bootstrapPair("000000000002")
	if ok, err := s.Bootstrap(ctx, tk2, g); err != nil || ok {
		t.Fatalf("bootstrap with an active admin: %v %v", ok, err)
	}
	_, err = s.RevokeToken(ctx, tk.ID, "root", t0)
	must(t, err)
	tk2.CreatedAt = t0.Add(time.Minute)
	if ok, err := s.Bootstrap(ctx, tk2, g); err != nil || !ok {
		t.Fatalf("bootstrap after revoke: %v %v", ok, err)
	}
}

func entry(at time.Time, actor, action, env, outcome string) audit.Entry {
	return audit.Entry{At: at, Actor: actor, Method: "token", TokenID: "aaaaaaaaaaaa", Remote: "10.0.0.1:5555",
		Action: action, Target: "execution/e-1", Environment: env, Outcome: outcome, Status: 202, Summary: "did " + action}
}

func testAudit(t *testing.T, s Store) {
	ctx := context.Background()
	es := []audit.Entry{
		entry(t0, "alice", "run", "staging", audit.OutcomeOK),
		entry(t0.Add(time.Second), "bob", "approve", "prod", audit.OutcomeDenied),
		entry(t0.Add(2*time.Second), "alice", "rollback", "prod", audit.OutcomeOK),
	}
	var last int64
	for i := range es {
		must(t, s.AppendAudit(ctx, &es[i]))
		if es[i].Seq <= last {
			t.Fatalf("seq %d after %d", es[i].Seq, last)
		}
		last = es[i].Seq
	}
	for _, tc := range []struct {
		name string
		f    audit.Filter
		want []int
	}{
		{"all", audit.Filter{}, []int{0, 1, 2}},
		{"actor", audit.Filter{Actor: "alice"}, []int{0, 2}},
		{"action", audit.Filter{Action: "approve"}, []int{1}},
		{"environment", audit.Filter{Environment: "prod"}, []int{1, 2}},
		{"outcome", audit.Filter{Outcome: audit.OutcomeDenied}, []int{1}},
		{"since", audit.Filter{Since: t0.Add(time.Second)}, []int{1, 2}},
		{"until", audit.Filter{Until: t0.Add(time.Second)}, []int{0}},
		{"after", audit.Filter{After: es[0].Seq}, []int{1, 2}},
		{"limit", audit.Filter{Limit: 2}, []int{0, 1}},
		{"before", audit.Filter{Before: es[2].Seq}, []int{0, 1}},
		{"newest first", audit.Filter{Newest: true}, []int{2, 1, 0}},
		{"newest page", audit.Filter{Newest: true, Limit: 2}, []int{2, 1}},
		{"newest next page", audit.Filter{Newest: true, Before: es[1].Seq, Limit: 2}, []int{0}},
		{"newest filtered", audit.Filter{Newest: true, Actor: "alice"}, []int{2, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tc.f)
			must(t, err)
			var want []audit.Entry
			for _, i := range tc.want {
				want = append(want, es[i])
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func testAuditConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			e := entry(t0, fmt.Sprintf("u%d", i), "apply", "", audit.OutcomeOK)
			if err := s.AppendAudit(ctx, &e); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	got, err := s.ListAudit(ctx, audit.Filter{})
	must(t, err)
	seen := map[int64]bool{}
	for _, e := range got {
		if seen[e.Seq] {
			t.Fatalf("duplicate seq %d", e.Seq)
		}
		seen[e.Seq] = true
	}
	if len(got) != n {
		t.Fatalf("%d entries, want %d", len(got), n)
	}
}
