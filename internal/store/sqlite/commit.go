package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/internal/store"
	sqlite3 "modernc.org/sqlite/lib"
)

// prepared is a Commit validated and encoded outside the writer goroutine, so the
// writer spends its time on SQL only.
type prepared struct {
	c        *store.Commit
	id       string
	execArgs []any // column values of the execution, in insertExec order after id
	lease    []any // owner and lease_until, written on create only
	journal  [][]any
	events   [][]any
}

// prepareCommit validates c and encodes its rows.
func prepareCommit(c *store.Commit) (*prepared, error) {
	id, err := c.Check()
	if err != nil {
		return nil, err
	}
	p := &prepared{c: c, id: id}
	if e := c.Execution; e != nil {
		vars, err := json.Marshal(e.Variables)
		if err != nil {
			return nil, fmt.Errorf("encode variables: %w", err)
		}
		if e.Variables == nil {
			vars = nil
		}
		state, err := encodeJSON("state", e.State)
		if err != nil {
			return nil, err
		}
		p.execArgs = []any{e.Workflow, e.WorkflowVersion, e.Environment, e.EnvironmentVersion, e.Service,
			nullString(vars), e.StartedBy, encodeTime(e.CreatedAt), encodeTime(e.UpdatedAt), string(e.Status), e.Reason, state}
		p.lease = []any{e.Owner, leaseTime(e.LeaseUntil)}
	}
	for i, j := range c.Journal {
		data, err := encodeJSON(fmt.Sprintf("journal[%d].data", i), j.Data)
		if err != nil {
			return nil, err
		}
		p.journal = append(p.journal, []any{j.Key, j.Kind, data, encodeTime(j.At)})
	}
	for i, ev := range c.Events {
		data, err := encodeJSON(fmt.Sprintf("events[%d].data", i), ev.Data)
		if err != nil {
			return nil, err
		}
		p.events = append(p.events, []any{encodeTime(ev.At), ev.Type, ev.Step, ev.Level, ev.Message, data})
	}
	return p, nil
}

func nullString(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// Commit applies c atomically through the group-commit writer.
func (s *Store) Commit(ctx context.Context, c *store.Commit) error {
	p, err := prepareCommit(c)
	if err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		return s.applyCommit(ctx, tx, p)
	})
	if err != nil {
		return fmt.Errorf("sqlite: commit execution %s: %w", p.id, err)
	}
	return nil
}

// applyCommit writes p inside tx and returns the function that publishes the assigned
// version and seqs into the caller's Commit.
func (s *Store) applyCommit(ctx context.Context, tx *sql.Tx, p *prepared) (func(), error) {
	c := p.c
	var version, jseq, eseq int64
	nj, ne := int64(len(p.journal)), int64(len(p.events))
	switch {
	case c.Execution != nil && c.Create:
		args := append(append(append([]any{p.id}, p.execArgs...), nj, ne), p.lease...)
		if _, err := tx.StmtContext(ctx, s.stmts.insertExec).ExecContext(ctx, args...); err != nil {
			return nil, s.explainExecError(ctx, tx, p, 0, err)
		}
		version, jseq, eseq = 1, nj, ne
	case c.Execution != nil:
		args := append(append(append([]any{}, p.execArgs[:7]...), p.execArgs[8:]...), nj, ne, p.id, c.Execution.Version)
		err := tx.StmtContext(ctx, s.stmts.updateExec).QueryRowContext(ctx, args...).Scan(&version, &jseq, &eseq)
		if err != nil {
			return nil, s.explainExecError(ctx, tx, p, c.Execution.Version, err)
		}
	case nj > 0 || ne > 0:
		err := tx.StmtContext(ctx, s.stmts.bumpSeqs).QueryRowContext(ctx, nj, ne, p.id).Scan(&version, &jseq, &eseq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("execution %s: %w", p.id, store.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := s.insertRows(ctx, tx, p, jseq-nj, eseq-ne); err != nil {
		return nil, err
	}
	return func() { publish(c, p.id, version, jseq-nj, eseq-ne) }, nil
}

// insertRows writes the journal entries, events and service state of p; journal and
// event seqs follow firstJ and firstE.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, p *prepared, firstJ, firstE int64) error {
	if len(p.journal) > 0 {
		st := tx.StmtContext(ctx, s.stmts.insertJournal)
		for i, row := range p.journal {
			if _, err := st.ExecContext(ctx, append([]any{p.id, firstJ + int64(i) + 1}, row...)...); err != nil {
				return fmt.Errorf("insert journal: %w", err)
			}
		}
	}
	if len(p.events) > 0 {
		st := tx.StmtContext(ctx, s.stmts.insertEvent)
		for i, row := range p.events {
			if _, err := st.ExecContext(ctx, append([]any{p.id, firstE + int64(i) + 1}, row...)...); err != nil {
				return fmt.Errorf("insert event: %w", err)
			}
		}
	}
	if sv := p.c.Service; sv != nil {
		_, err := tx.StmtContext(ctx, s.stmts.upsertService).ExecContext(ctx, sv.Environment, sv.Service, sv.LiveSlot,
			sv.Artifact, sv.Instances, sv.ExecutionID, encodeTime(sv.UpdatedAt))
		if err != nil {
			return fmt.Errorf("upsert service %s/%s: %w", sv.Environment, sv.Service, err)
		}
	}
	return nil
}

// publish copies what the store assigned into the caller's Commit.
func publish(c *store.Commit, id string, version, firstJ, firstE int64) {
	if c.Execution != nil {
		c.Execution.Version = version
	}
	for i := range c.Journal {
		c.Journal[i].Seq = firstJ + int64(i) + 1
	}
	for i := range c.Events {
		c.Events[i].ExecutionID = id
		c.Events[i].Seq = firstE + int64(i) + 1
	}
}

// explainExecError turns a failed execution insert or update into ErrNotFound, a
// *store.ConflictError or a *store.BusyError.
func (s *Store) explainExecError(ctx context.Context, tx *sql.Tx, p *prepared, expected int64, err error) error {
	var se interface{ Code() int }
	unique := errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	if !unique && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var actual int64
	switch verr := tx.QueryRowContext(ctx, `SELECT version FROM executions WHERE id = ?`, p.id).Scan(&actual); {
	case errors.Is(verr, sql.ErrNoRows) && !p.c.Create:
		return fmt.Errorf("execution %s: %w", p.id, store.ErrNotFound)
	case verr != nil && !errors.Is(verr, sql.ErrNoRows):
		return fmt.Errorf("read version: %w", verr)
	case verr == nil && actual != expected:
		return &store.ConflictError{ID: p.id, Expected: expected, Actual: actual}
	}
	e := p.c.Execution
	var holder string
	herr := tx.QueryRowContext(ctx, `SELECT id FROM executions WHERE environment = ? AND service = ? AND id <> ?
		AND status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted') LIMIT 1`, e.Environment, e.Service, p.id).Scan(&holder)
	if herr != nil {
		return fmt.Errorf("%w (looking for the service holder: %v)", err, herr)
	}
	return &store.BusyError{Environment: e.Environment, Service: e.Service, Holder: holder}
}
