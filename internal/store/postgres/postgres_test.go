package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/postgres"
	"github.com/sluicehq/sluice/internal/store/storetest"
)

// testDSN returns SLUICE_TEST_POSTGRES_DSN, skipping the test when it is unset (and
// failing under CI=true, where a missing PostgreSQL is an error).
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("SLUICE_TEST_POSTGRES_DSN")
	if dsn != "" {
		return dsn
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("SLUICE_TEST_POSTGRES_DSN not set; run via make test")
	}
	t.Skip(`SLUICE_TEST_POSTGRES_DSN not set; run eval "$(scripts/postgres.sh start)" first`)
	return ""
}

var schemaSeq atomic.Int64

// freshSchema creates an empty schema for one test, dropped at cleanup, and returns a
// DSN whose search_path points at it.
func freshSchema(t *testing.T) string {
	t.Helper()
	dsn := testDSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	schema := fmt.Sprintf("sluice_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, freshSchema(t)) })
}

// TestReopenAndConcurrentMigrate starts several stores on one empty schema at once (as
// several servers would), writes, and reopens: migrations run once and data stays.
func TestReopenAndConcurrentMigrate(t *testing.T) {
	dsn := freshSchema(t)
	ctx := context.Background()
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			s, err := postgres.Open(ctx, dsn)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	s := open(t, dsn)
	at := time.Date(2026, 11, 25, 23, 0, 0, 7, time.UTC)
	e := &store.Execution{ID: "e1", Environment: "prod", Service: "shop", Status: store.StatusRunning, CreatedAt: at, UpdatedAt: at}
	if err := s.Commit(ctx, &store.Commit{Execution: e, Create: true}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dsn)
	got, err := s.GetExecution(ctx, "e1")
	if err != nil || !got.CreatedAt.Equal(at) {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != postgres.SchemaVersion {
		t.Fatalf("schema_migrations rows: %d, %v", n, err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES (999, 'future', '')`); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, dsn); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("open of a newer schema: want a clear error, got %v", err)
	}
}
