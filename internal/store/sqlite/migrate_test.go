package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

var t0 = time.Date(2026, 11, 25, 23, 0, 0, 42, time.UTC)

// TestReopenKeepsData opens a database, writes to it, closes it with commits in
// flight and reopens it: every acknowledged commit is there and migrations are not
// applied twice.
func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sluice.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	e := &store.Execution{ID: "e1", Workflow: "w", Environment: "prod", Service: "shop", Status: store.StatusRunning, CreatedAt: t0, UpdatedAt: t0}
	if err := s.Commit(ctx, &store.Commit{Execution: e, Create: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutDefinition(ctx, store.Definition{Kind: store.KindWorkflow, Name: "w", Source: "src", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	var acked sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for i := 0; i < 50; i++ {
		acked.Add(1)
		go func(i int) {
			defer acked.Done()
			c := &store.Commit{ExecutionID: "e1", Journal: []store.JournalEntry{{Key: fmt.Sprint(i), At: t0}}}
			if s.Commit(ctx, c) == nil {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}(i)
	}
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	acked.Wait()

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.GetExecution(ctx, "e1")
	if err != nil || !got.CreatedAt.Equal(t0) {
		t.Fatalf("execution after reopen: %+v, %v", got, err)
	}
	if d, err := s.GetDefinition(ctx, store.KindWorkflow, "w", 0); err != nil || d.Source != "src" {
		t.Fatalf("definition after reopen: %+v, %v", d, err)
	}
	j, err := s.Journal(ctx, "e1")
	if err != nil || len(j) != n {
		t.Fatalf("journal after reopen: %d entries, %d acknowledged (%v)", len(j), n, err)
	}
	if rows := countMigrations(t, path); rows != sqlite.SchemaVersion {
		t.Fatalf("schema_migrations has %d rows, want %d", rows, sqlite.SchemaVersion)
	}
}

func countMigrations(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNewerSchemaRefused checks that an older binary refuses a database migrated by a
// newer one instead of writing to a schema it does not know.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sluice.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', '')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("open of a newer schema: want a clear error, got %v", err)
	}
}

func TestPathsWithURICharacters(t *testing.T) {
	for _, name := range []string{"a#b", "a?b", "a%20b"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "sluice.db")
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("the database is not where it was asked for: %v", err)
			}
		})
	}
}
