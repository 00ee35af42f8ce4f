package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/store/sqlstore"
)

// writeOp is one write waiting for the group-commit writer. apply runs inside the
// batch transaction under its own savepoint; after runs only once the transaction is
// durable, to publish results (assigned versions and seqs) to the caller.
type writeOp struct {
	ctx   context.Context
	apply func(ctx context.Context, tx *sql.Tx) (after func(), err error)
	done  chan error
}

// write queues fn for the writer and waits for its durable outcome. A write whose ctx
// ends before the writer reaches it is skipped and returns ctx.Err(); once started it
// runs to completion, so a nil error always means the write is on disk.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) (func(), error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.gate.Enter() {
		return ErrClosed
	}
	op := &writeOp{ctx: ctx, apply: fn, done: make(chan error, 1)}
	select {
	case s.queue <- op:
	case <-ctx.Done():
		s.gate.Leave()
		return ctx.Err()
	}
	return <-op.done
}

// writer is the one goroutine that writes: it takes every op queued at that moment (up
// to maxBatch) and commits them together.
func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*writeOp, 0, s.opts.maxBatch)
	for {
		select {
		case op := <-s.queue:
			batch = append(batch[:0], op)
		case <-s.stop:
			return
		}
	drain:
		for len(batch) < s.opts.maxBatch {
			select {
			case op := <-s.queue:
				batch = append(batch, op)
			default:
				break drain
			}
		}
		s.runBatch(batch)
		for i := range batch {
			batch[i] = nil
		}
	}
}

// runBatch applies ops in one transaction, each under a savepoint, commits (fsync) and
// only then reports each op's own outcome.
func (s *Store) runBatch(batch []*writeOp) {
	errs := make([]error, len(batch))
	afters := make([]func(), len(batch))
	ctx := context.Background() // the batch outlives any one caller's ctx
	fatal := func() error {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for i, op := range batch {
			if err := op.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			afters[i], errs[i], err = applyOp(ctx, tx, op)
			if err != nil {
				tx.Rollback() //nolint:errcheck // the batch already failed
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}()
	for i, op := range batch {
		err := errs[i]
		switch {
		case fatal != nil && err == nil:
			err = fatal
		case err == nil && afters[i] != nil:
			afters[i]()
		}
		op.done <- err
		s.gate.Leave()
	}
}

// applyOp runs one op under a savepoint. It returns the op's own error, and a fatal
// error when the transaction itself can no longer be trusted.
func applyOp(ctx context.Context, tx *sql.Tx, op *writeOp) (after func(), opErr, fatal error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
		return nil, nil, fmt.Errorf("savepoint: %w", err)
	}
	after, opErr = op.apply(ctx, tx)
	if opErr != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO op"); err != nil {
			return nil, opErr, fmt.Errorf("rollback to savepoint: %w", errors.Join(opErr, err))
		}
	}
	if _, err := tx.ExecContext(ctx, "RELEASE op"); err != nil {
		return nil, opErr, fmt.Errorf("release savepoint: %w", err)
	}
	return after, opErr, nil
}

// writeStmts are the hot-path statements, prepared once on the writer connection.
type writeStmts struct {
	insertExec, updateExec, bumpSeqs, insertJournal, insertEvent, upsertService *sql.Stmt
}

func (w *writeStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&w.insertExec, sqlstore.InsertExecution},
		{&w.updateExec, sqlstore.UpdateExecution},
		{&w.bumpSeqs, sqlstore.BumpSeqs},
		{&w.insertJournal, sqlstore.InsertJournal},
		{&w.insertEvent, sqlstore.InsertEvent},
		{&w.upsertService, sqlstore.UpsertService},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			w.close()
			return fmt.Errorf("prepare: %w", err)
		}
		*p.dst = st
	}
	return nil
}

func (w *writeStmts) close() {
	for _, st := range []*sql.Stmt{w.insertExec, w.updateExec, w.bumpSeqs, w.insertJournal, w.insertEvent, w.upsertService} {
		if st != nil {
			st.Close()
		}
	}
}
