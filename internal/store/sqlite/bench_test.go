package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlite"
)

// BenchmarkSingleRowTxn is the baseline: one fsynced single-row INSERT transaction at
// a time (WAL, synchronous=FULL), the most a store without batching can do.
func BenchmarkSingleRowTxn(b *testing.B) {
	path := filepath.Join(b.TempDir(), "base.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO t (v) VALUES (?)`, "step.finished"); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txn/s")
}

// BenchmarkCommitParallel measures durable step transitions through group commit: many
// goroutines (GOMAXPROCS x parallelism: 64, 128 and 256 committers on 2 cores) each drive
// their own execution, and every Commit is an execution update plus one journal entry
// plus one event.
func BenchmarkCommitParallel(b *testing.B) {
	for _, par := range []int{32, 64, 128} {
		b.Run(fmt.Sprintf("committers=%d", par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			benchCommitParallel(b, par)
		})
	}
}

func benchCommitParallel(b *testing.B, parallelism int, opts ...sqlite.Option) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "sluice.db"), opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var next atomic.Int64
	state := json.RawMessage(`{"phase":1,"step":2,"slots":{"live":"green","new":"blue"}}`)
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := next.Add(1)
		e := &store.Execution{ID: fmt.Sprintf("e%d", n), Workflow: "checkout", WorkflowVersion: 1,
			Environment: "prod", Service: fmt.Sprintf("svc%d", n), Variables: map[string]string{"artifact": "shop:2"},
			Status: store.StatusRunning, CreatedAt: t0, UpdatedAt: t0, State: state}
		if err := s.Commit(ctx, &store.Commit{Execution: e, Create: true}); err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			c := &store.Commit{Execution: e,
				Journal: []store.JournalEntry{{Key: fmt.Sprintf("%s/p1.s%d/1", e.ID, i), Kind: "step.finished", At: t0}},
				Events:  []store.Event{{Type: "step", Step: "p1.s1", Level: "info", Message: "step finished", At: t0}}}
			if err := s.Commit(ctx, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transitions/s")
}
