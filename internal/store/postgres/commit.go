package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store"
)

// prepared is a Commit validated and encoded before the transaction starts.
type prepared struct {
	c        *store.Commit
	id       string
	execArgs []any // workflow .. state, in insert order after id
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
		var vars any
		if e.Variables != nil {
			b, err := json.Marshal(e.Variables)
			if err != nil {
				return nil, fmt.Errorf("encode variables: %w", err)
			}
			vars = string(b)
		}
		state, err := encodeJSON("state", e.State)
		if err != nil {
			return nil, err
		}
		p.execArgs = []any{e.Workflow, e.WorkflowVersion, e.Environment, e.EnvironmentVersion, e.Service,
			vars, e.StartedBy, encodeTime(e.CreatedAt), encodeTime(e.UpdatedAt), string(e.Status), e.Reason, state}
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

// Commit applies c in one transaction.
func (s *Store) Commit(ctx context.Context, c *store.Commit) error {
	p, err := prepareCommit(c)
	if err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: commit execution %s: %w", p.id, err)
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
		return fmt.Errorf("postgres: commit execution %s: %w", p.id, s.explain(ctx, p, err))
	}
	publish(c, p.id, version, firstJ, firstE)
	return nil
}

// applyExecution creates or updates the execution row, or only advances its counters,
// and returns the new version and the seqs before the first new journal entry and event.
func applyExecution(ctx context.Context, tx pgx.Tx, p *prepared) (version, firstJ, firstE int64, err error) {
	c := p.c
	nj, ne := int64(len(p.journal)), int64(len(p.events))
	var jseq, eseq int64
	switch {
	case c.Execution != nil && c.Create:
		args := append(append(append([]any{p.id}, p.execArgs...), nj, ne), p.lease...)
		_, err = tx.Exec(ctx, `INSERT INTO executions (id, workflow, workflow_version, environment, environment_version,
			service, variables, started_by, created_at, updated_at, status, reason, state, version, journal_seq, event_seq,
			owner, lease_until)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $16, $17)`, args...)
		version, jseq, eseq = 1, nj, ne
	case c.Execution != nil:
		args := append(append(append([]any{}, p.execArgs[:7]...), p.execArgs[8:]...), nj, ne, p.id, c.Execution.Version)
		err = tx.QueryRow(ctx, `UPDATE executions SET workflow = $1, workflow_version = $2, environment = $3,
			environment_version = $4, service = $5, variables = $6, started_by = $7, updated_at = $8, status = $9,
			reason = $10, state = $11, version = version + 1, journal_seq = journal_seq + $12, event_seq = event_seq + $13
			WHERE id = $14 AND version = $15 RETURNING version, journal_seq, event_seq`, args...).Scan(&version, &jseq, &eseq)
	case nj > 0 || ne > 0:
		err = tx.QueryRow(ctx, `UPDATE executions SET journal_seq = journal_seq + $1, event_seq = event_seq + $2
			WHERE id = $3 RETURNING version, journal_seq, event_seq`, nj, ne, p.id).Scan(&version, &jseq, &eseq)
	}
	return version, jseq - nj, eseq - ne, err
}

// insertRows writes the journal entries, events and service state of p in one round trip.
func insertRows(ctx context.Context, tx pgx.Tx, p *prepared, firstJ, firstE int64) error {
	b := &pgx.Batch{}
	for i, row := range p.journal {
		b.Queue(`INSERT INTO journal (execution_id, seq, key, kind, data, at) VALUES ($1, $2, $3, $4, $5, $6)`,
			append([]any{p.id, firstJ + int64(i) + 1}, row...)...)
	}
	for i, row := range p.events {
		b.Queue(`INSERT INTO events (execution_id, seq, at, type, step, level, message, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, append([]any{p.id, firstE + int64(i) + 1}, row...)...)
	}
	if sv := p.c.Service; sv != nil {
		b.Queue(`INSERT INTO services (environment, service, live_slot, artifact, instances, execution_id, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (environment, service) DO UPDATE SET live_slot = excluded.live_slot,
			artifact = excluded.artifact, instances = excluded.instances,
			execution_id = excluded.execution_id, updated_at = excluded.updated_at`,
			sv.Environment, sv.Service, sv.LiveSlot, sv.Artifact, sv.Instances, sv.ExecutionID, encodeTime(sv.UpdatedAt))
	}
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("insert rows: %w", err)
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

// explain turns a failed commit into ErrNotFound, a *store.ConflictError or a
// *store.BusyError by reading the current rows after the transaction rolled back.
func (s *Store) explain(ctx context.Context, p *prepared, err error) error {
	constraint := uniqueViolation(err)
	if !errors.Is(err, pgx.ErrNoRows) && constraint == "" {
		return err
	}
	if constraint == "executions_active_service" {
		e := p.c.Execution
		var holder string
		herr := s.pool.QueryRow(ctx, `SELECT id FROM executions WHERE environment = $1 AND service = $2 AND id <> $3
			AND status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted') LIMIT 1`, e.Environment, e.Service, p.id).Scan(&holder)
		if herr != nil && !errors.Is(herr, pgx.ErrNoRows) {
			return fmt.Errorf("%w (looking for the service holder: %v)", err, herr)
		}
		return &store.BusyError{Environment: e.Environment, Service: e.Service, Holder: holder}
	}
	if constraint != "" && constraint != "executions_pkey" {
		return err
	}
	var actual int64
	verr := s.pool.QueryRow(ctx, `SELECT version FROM executions WHERE id = $1`, p.id).Scan(&actual)
	switch {
	case errors.Is(verr, pgx.ErrNoRows):
		return fmt.Errorf("execution %s: %w", p.id, store.ErrNotFound)
	case verr != nil:
		return fmt.Errorf("%w (reading the stored version: %v)", err, verr)
	}
	var expected int64
	if p.c.Execution != nil && !p.c.Create {
		expected = p.c.Execution.Version
	}
	return &store.ConflictError{ID: p.id, Expected: expected, Actual: actual}
}
