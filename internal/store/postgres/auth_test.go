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

// TestAuditAppendOnly: even a direct SQL client cannot change or remove an entry.
func TestAuditAppendOnly(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := openAuth(t, dsn)
	ctx := context.Background()
	if err := s.AppendAudit(ctx, &audit.Entry{Actor: "alice", Action: "run"}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{`UPDATE audit_log SET actor = 'mallory'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := conn.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only error", q, err)
		}
	}
}
