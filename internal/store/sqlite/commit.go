package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlstore"
)

// Commit applies c atomically through the group-commit writer. c is validated and
// encoded before it is queued, so the writer spends its time on SQL only.
func (s *Store) Commit(ctx context.Context, c *store.Commit) error {
	p, err := sqlstore.PrepareCommit(c)
	if err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		return s.applyCommit(ctx, tx, p)
	})
	if err != nil {
		return fmt.Errorf("sqlite: commit execution %s: %w", p.ID, err)
	}
	return nil
}

// applyCommit writes p inside tx and returns the function that publishes the assigned
// version and seqs into the caller's Commit.
func (s *Store) applyCommit(ctx context.Context, tx *sql.Tx, p *sqlstore.Prepared) (func(), error) {
	c := p.C
	var version, jseq, eseq int64
	nj, ne := int64(len(p.Journal)), int64(len(p.Events))
	switch {
	case c.Execution != nil && c.Create:
		if _, err := tx.StmtContext(ctx, s.stmts.insertExec).ExecContext(ctx, p.InsertArgs()...); err != nil {
			return nil, s.explainExecError(ctx, tx, p, 0, err)
		}
		version, jseq, eseq = 1, nj, ne
	case c.Execution != nil:
		err := tx.StmtContext(ctx, s.stmts.updateExec).QueryRowContext(ctx, p.UpdateArgs()...).Scan(&version, &jseq, &eseq)
		if err != nil {
			return nil, s.explainExecError(ctx, tx, p, c.Execution.Version, err)
		}
	case nj > 0 || ne > 0:
		err := tx.StmtContext(ctx, s.stmts.bumpSeqs).QueryRowContext(ctx, nj, ne, p.ID).Scan(&version, &jseq, &eseq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("execution %s: %w", p.ID, store.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := s.insertRows(ctx, tx, p, jseq-nj, eseq-ne); err != nil {
		return nil, err
	}
	return func() { p.Publish(version, jseq-nj, eseq-ne) }, nil
}

// insertRows writes the journal entries, events and service state of p; journal and
// event seqs follow firstJ and firstE.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, p *sqlstore.Prepared, firstJ, firstE int64) error {
	if len(p.Journal) > 0 {
		st := tx.StmtContext(ctx, s.stmts.insertJournal)
		for i, row := range p.Journal {
			if _, err := st.ExecContext(ctx, append([]any{p.ID, firstJ + int64(i) + 1}, row...)...); err != nil {
				return fmt.Errorf("insert journal: %w", err)
			}
		}
	}
	if len(p.Events) > 0 {
		st := tx.StmtContext(ctx, s.stmts.insertEvent)
		for i, row := range p.Events {
			if _, err := st.ExecContext(ctx, append([]any{p.ID, firstE + int64(i) + 1}, row...)...); err != nil {
				return fmt.Errorf("insert event: %w", err)
			}
		}
	}
	if sv := p.C.Service; sv != nil {
		if _, err := tx.StmtContext(ctx, s.stmts.upsertService).ExecContext(ctx, sqlstore.ServiceArgs(sv)...); err != nil {
			return fmt.Errorf("upsert service %s/%s: %w", sv.Environment, sv.Service, err)
		}
	}
	return nil
}

// explainExecError turns a failed execution insert or update into ErrNotFound, a
// *store.ConflictError or a *store.BusyError, reading inside the batch transaction.
func (s *Store) explainExecError(ctx context.Context, tx *sql.Tx, p *sqlstore.Prepared, expected int64, err error) error {
	if !unique(err) && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var actual int64
	switch verr := tx.QueryRowContext(ctx, sqlstore.ExecutionVersion, p.ID).Scan(&actual); {
	case errors.Is(verr, sql.ErrNoRows) && !p.C.Create:
		return fmt.Errorf("execution %s: %w", p.ID, store.ErrNotFound)
	case verr != nil && !errors.Is(verr, sql.ErrNoRows):
		return fmt.Errorf("read version: %w", verr)
	case verr == nil && actual != expected:
		return &store.ConflictError{ID: p.ID, Expected: expected, Actual: actual}
	}
	e := p.C.Execution
	var holder string
	herr := tx.QueryRowContext(ctx, sqlstore.ServiceHolder, e.Environment, e.Service, p.ID).Scan(&holder)
	if herr != nil {
		return fmt.Errorf("%w (looking for the service holder: %v)", err, herr)
	}
	return &store.BusyError{Environment: e.Environment, Service: e.Service, Holder: holder}
}
