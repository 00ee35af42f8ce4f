package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth/authtest"
	"github.com/sluicehq/sluice/internal/store/postgres"
	"github.com/sluicehq/sluice/internal/store/postgres/pgtest"
	"github.com/sluicehq/sluice/internal/store/storetest"
)

func openAuth(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestAuthConformance(t *testing.T) {
	authtest.Run(t, func(t *testing.T) authtest.Store { return openAuth(t, pgtest.DSN(t)) })
}

func TestAuditConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) audit.Store { return openAuth(t, pgtest.DSN(t)) })
}

// TestAuditAppendOnly: even a direct SQL client cannot change or remove an entry that
// was not exported, nor the record of an export.
func TestAuditAppendOnly(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := openAuth(t, dsn)
	ctx := context.Background()
	var first audit.Entry
	for i := range 2 {
		e := audit.Entry{Actor: "alice", Action: "run"}
		if err := s.AppendAudit(ctx, &e); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = e
		}
	}
	if n, err := s.PruneAudit(ctx, first.Seq, "export.jsonl"); err != nil || n != 1 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{`UPDATE audit_log SET actor = 'mallory'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`,
		`UPDATE audit_exports SET through_seq = 99`, `DELETE FROM audit_exports`, `TRUNCATE audit_exports`} {
		if _, err := conn.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only error", q, err)
		}
	}
}
