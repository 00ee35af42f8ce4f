package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store"
)

const execColumns = `id, workflow, workflow_version, environment, environment_version, service, variables,
	started_by, created_at, updated_at, status, reason, state, version, owner, lease_until`

// GetExecution returns one execution or store.ErrNotFound.
func (s *Store) GetExecution(ctx context.Context, id string) (store.Execution, error) {
	e, err := scanExecution(s.pool.QueryRow(ctx, `SELECT `+execColumns+` FROM executions WHERE id = $1`, id))
	if err != nil {
		return store.Execution{}, fmt.Errorf("postgres: get execution %s: %w", id, err)
	}
	return e, nil
}

// ListExecutions returns the executions matching f, newest first.
func (s *Store) ListExecutions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, val string }{
		{"workflow", f.Workflow}, {"environment", f.Environment}, {"service", f.Service},
		{"status", string(f.Status)}, {"started_by", f.StartedBy},
	} {
		if c.val != "" {
			args = append(args, c.val)
			where = append(where, fmt.Sprintf("%s = $%d", c.col, len(args)))
		}
	}
	if f.Active {
		where = append(where, "status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted')")
	}
	q := `SELECT ` + execColumns + ` FROM executions`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list executions: %w", err)
	}
	defer rows.Close()
	var out []store.Execution
	for rows.Next() {
		e, err := scanExecution(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list executions: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list executions: %w", err)
	}
	return out, nil
}

func scanExecution(row pgx.Row) (store.Execution, error) {
	var e store.Execution
	var vars, state []byte
	var created, updated, status, lease string
	err := row.Scan(&e.ID, &e.Workflow, &e.WorkflowVersion, &e.Environment, &e.EnvironmentVersion, &e.Service,
		&vars, &e.StartedBy, &created, &updated, &status, &e.Reason, &state, &e.Version, &e.Owner, &lease)
	if err != nil {
		return e, notFound(err)
	}
	e.Status, e.State = store.Status(status), decodeJSON(state)
	if vars != nil {
		if err := json.Unmarshal(vars, &e.Variables); err != nil {
			return e, fmt.Errorf("decode variables of %s: %w", e.ID, err)
		}
	}
	if e.CreatedAt, err = decodeTime(created); err != nil {
		return e, err
	}
	if lease != "" {
		if e.LeaseUntil, err = decodeTime(lease); err != nil {
			return e, err
		}
	}
	e.UpdatedAt, err = decodeTime(updated)
	return e, err
}

// Journal returns an execution's journal entries in seq order.
func (s *Store) Journal(ctx context.Context, executionID string) ([]store.JournalEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, key, kind, data, at FROM journal WHERE execution_id = $1 ORDER BY seq`, executionID)
	if err != nil {
		return nil, fmt.Errorf("postgres: journal of %s: %w", executionID, err)
	}
	defer rows.Close()
	var out []store.JournalEntry
	for rows.Next() {
		var j store.JournalEntry
		var data []byte
		var at string
		if err := rows.Scan(&j.Seq, &j.Key, &j.Kind, &data, &at); err != nil {
			return nil, fmt.Errorf("postgres: journal of %s: %w", executionID, err)
		}
		j.Data = decodeJSON(data)
		if j.At, err = decodeTime(at); err != nil {
			return nil, fmt.Errorf("postgres: journal of %s: %w", executionID, err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: journal of %s: %w", executionID, err)
	}
	return out, nil
}

// Events returns up to limit events of an execution with Seq > after, in order.
func (s *Store) Events(ctx context.Context, executionID string, after int64, limit int) ([]store.Event, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, at, type, step, level, message, data FROM events
		WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, executionID, after, lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: events of %s: %w", executionID, err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		ev := store.Event{ExecutionID: executionID}
		var data []byte
		var at string
		if err := rows.Scan(&ev.Seq, &at, &ev.Type, &ev.Step, &ev.Level, &ev.Message, &data); err != nil {
			return nil, fmt.Errorf("postgres: events of %s: %w", executionID, err)
		}
		ev.Data = decodeJSON(data)
		if ev.At, err = decodeTime(at); err != nil {
			return nil, fmt.Errorf("postgres: events of %s: %w", executionID, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: events of %s: %w", executionID, err)
	}
	return out, nil
}

// GetService returns the state of one service in one environment, or store.ErrNotFound.
func (s *Store) GetService(ctx context.Context, environment, service string) (store.ServiceState, error) {
	rows, err := s.queryServices(ctx, `WHERE environment = $1 AND service = $2`, environment, service)
	if err == nil && len(rows) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.ServiceState{}, fmt.Errorf("postgres: get service %s/%s: %w", environment, service, err)
	}
	return rows[0], nil
}

// ListServices returns the services of an environment (of all when empty).
func (s *Store) ListServices(ctx context.Context, environment string) ([]store.ServiceState, error) {
	var out []store.ServiceState
	var err error
	if environment == "" {
		out, err = s.queryServices(ctx, ``)
	} else {
		out, err = s.queryServices(ctx, `WHERE environment = $1`, environment)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: list services %q: %w", environment, err)
	}
	return out, nil
}

func (s *Store) queryServices(ctx context.Context, where string, args ...any) ([]store.ServiceState, error) {
	rows, err := s.pool.Query(ctx, `SELECT environment, service, live_slot, artifact, instances, execution_id, updated_at
		FROM services `+where+` ORDER BY environment, service`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ServiceState
	for rows.Next() {
		var sv store.ServiceState
		var at string
		if err := rows.Scan(&sv.Environment, &sv.Service, &sv.LiveSlot, &sv.Artifact, &sv.Instances, &sv.ExecutionID, &at); err != nil {
			return nil, err
		}
		if sv.UpdatedAt, err = decodeTime(at); err != nil {
			return nil, err
		}
		out = append(out, sv)
	}
	return out, rows.Err()
}
