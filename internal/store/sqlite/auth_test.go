package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth/authtest"
	"github.com/sluicehq/sluice/internal/store/sqlite"
	"github.com/sluicehq/sluice/internal/store/storetest"
)

func TestAuthConformance(t *testing.T) {
	authtest.Run(t, func(t *testing.T) authtest.Store { return openTemp(t).(*sqlite.Store) })
}

func TestAuditConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) audit.Store { return openTemp(t).(*sqlite.Store) })
}

// TestAuditAppendOnly: even a direct SQL client cannot change or remove an entry that
// was not exported, nor the record of an export.
func TestAuditAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.AppendAudit(context.Background(), &audit.Entry{Actor: "alice", Action: "run"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.PruneAudit(context.Background(), 1, "export.jsonl"); err != nil || n != 1 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`UPDATE audit_log SET actor = 'mallory'`, `DELETE FROM audit_log`,
		`UPDATE audit_exports SET through_seq = 99`, `DELETE FROM audit_exports`} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want the append-only error", q, err)
		}
	}
}
