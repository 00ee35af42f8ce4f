package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlstore"
)

// The statements of a Commit, numbered for PostgreSQL once.
var (
	insertExecution  = dialect.Bind(sqlstore.InsertExecution)
	updateExecution  = dialect.Bind(sqlstore.UpdateExecution)
	bumpSeqs         = dialect.Bind(sqlstore.BumpSeqs)
	insertJournal    = dialect.Bind(sqlstore.InsertJournal)
	insertEvent      = dialect.Bind(sqlstore.InsertEvent)
	upsertService    = dialect.Bind(sqlstore.UpsertService)
	serviceHolder    = dialect.Bind(sqlstore.ServiceHolder)
	executionVersion = dialect.Bind(sqlstore.ExecutionVersion)
)

// Commit applies c in one transaction.
func (s *Store) Commit(ctx context.Context, c *store.Commit) error {
	p, err := sqlstore.PrepareCommit(c)
	if err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: commit execution %s: %w", p.ID, err)
	}
	defer done()
	var version, firstJ, firstE int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		version, firstJ, firstE, err = applyExecution(ctx, tx, p)
		if err != nil {
			return err
		}
		return insertRows(ctx, tx, p, firstJ, firstE)
	})
	if err != nil {
		return fmt.Errorf("postgres: commit execution %s: %w", p.ID, s.explain(ctx, p, err))
	}
	p.Publish(version, firstJ, firstE)
	return nil
}

// applyExecution creates or updates the execution row, or only advances its counters,
// and returns the new version and the seqs before the first new journal entry and event.
func applyExecution(ctx context.Context, tx pgx.Tx, p *sqlstore.Prepared) (version, firstJ, firstE int64, err error) {
	c := p.C
	nj, ne := int64(len(p.Journal)), int64(len(p.Events))
	var jseq, eseq int64
	switch {
	case c.Execution != nil && c.Create:
		_, err = tx.Exec(ctx, insertExecution, p.InsertArgs()...)
		version, jseq, eseq = 1, nj, ne
	case c.Execution != nil:
		err = tx.QueryRow(ctx, updateExecution, p.UpdateArgs()...).Scan(&version, &jseq, &eseq)
	case nj > 0 || ne > 0:
		err = tx.QueryRow(ctx, bumpSeqs, nj, ne, p.ID).Scan(&version, &jseq, &eseq)
	}
	return version, jseq - nj, eseq - ne, err
}

// insertRows writes the journal entries, events and service state of p in one round trip.
func insertRows(ctx context.Context, tx pgx.Tx, p *sqlstore.Prepared, firstJ, firstE int64) error {
	b := &pgx.Batch{}
	for i, row := range p.Journal {
		b.Queue(insertJournal, append([]any{p.ID, firstJ + int64(i) + 1}, row...)...)
	}
	for i, row := range p.Events {
		b.Queue(insertEvent, append([]any{p.ID, firstE + int64(i) + 1}, row...)...)
	}
	if sv := p.C.Service; sv != nil {
		b.Queue(upsertService, sqlstore.ServiceArgs(sv)...)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("insert rows: %w", err)
	}
	return nil
}

// explain turns a failed commit into ErrNotFound, a *store.ConflictError or a
// *store.BusyError by reading the current rows after the transaction rolled back.
func (s *Store) explain(ctx context.Context, p *sqlstore.Prepared, err error) error {
	constraint := uniqueViolation(err)
	if !errors.Is(err, pgx.ErrNoRows) && constraint == "" {
		return err
	}
	if constraint == "executions_active_service" {
		e := p.C.Execution
		var holder string
		herr := s.pool.QueryRow(ctx, serviceHolder, e.Environment, e.Service, p.ID).Scan(&holder)
		if herr != nil && !errors.Is(herr, pgx.ErrNoRows) {
			return fmt.Errorf("%w (looking for the service holder: %v)", err, herr)
		}
		return &store.BusyError{Environment: e.Environment, Service: e.Service, Holder: holder}
	}
	if constraint != "" && constraint != "executions_pkey" {
		return err
	}
	var actual int64
	verr := s.pool.QueryRow(ctx, executionVersion, p.ID).Scan(&actual)
	switch {
	case errors.Is(verr, pgx.ErrNoRows):
		return fmt.Errorf("execution %s: %w", p.ID, store.ErrNotFound)
	case verr != nil:
		return fmt.Errorf("%w (reading the stored version: %v)", err, verr)
	}
	var expected int64
	if p.C.Execution != nil && !p.C.Create {
		expected = p.C.Execution.Version
	}
	return &store.ConflictError{ID: p.ID, Expected: expected, Actual: actual}
}
