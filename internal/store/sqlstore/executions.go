package sqlstore

import (
	"context"
	"strings"

	"github.com/sluicehq/sluice/internal/store"
)

// NotTerminal is the SQL condition of an execution or pipeline run that can still change.
const NotTerminal = "status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted')"

// ExecColumns are the columns ScanExecution reads, in its order.
const ExecColumns = `id, workflow, workflow_version, environment, environment_version, service, variables,
	started_by, created_at, updated_at, status, reason, state, version, owner, lease_until`

// GetExecution returns one execution or store.ErrNotFound.
func (c *Core) GetExecution(ctx context.Context, id string) (store.Execution, error) {
	e, err := ScanExecution(c.reader().QueryRow(ctx, `SELECT `+ExecColumns+` FROM executions WHERE id = ?`, id))
	if err != nil {
		return store.Execution{}, c.Dialect.errorf("get execution %s: %w", id, err)
	}
	return e, nil
}

// ListExecutions returns the executions matching f, newest first.
func (c *Core) ListExecutions(ctx context.Context, f store.ExecutionFilter) ([]store.Execution, error) {
	return executions.list(ctx, c, []column{
		{"workflow", f.Workflow}, {"environment", f.Environment}, {"service", f.Service},
		{"status", string(f.Status)}, {"started_by", f.StartedBy},
	}, f.Active, f.Limit)
}

// whereClause joins conditions with AND behind WHERE; none is no clause.
func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// ScanExecution reads one row of ExecColumns.
func ScanExecution(row Row) (store.Execution, error) {
	var e store.Execution
	var t runText
	if err := row.Scan(&e.ID, &e.Workflow, &e.WorkflowVersion, &e.Environment, &e.EnvironmentVersion, &e.Service,
		&t.vars, &e.StartedBy, &t.created, &t.updated, &t.status, &e.Reason, &t.state, &e.Version, &e.Owner, &t.lease); err != nil {
		return e, err
	}
	d, err := t.decode(e.ID)
	e.Variables, e.State, e.Status = d.vars, d.state, d.status
	e.CreatedAt, e.UpdatedAt, e.LeaseUntil = d.created, d.updated, d.leaseEnd
	return e, err
}

// Journal returns an execution's journal entries in seq order.
func (c *Core) Journal(ctx context.Context, executionID string) ([]store.JournalEntry, error) {
	out, err := query(ctx, c.reader(), scanJournalEntry,
		`SELECT seq, key, kind, data, at FROM journal WHERE execution_id = ? ORDER BY seq`, executionID)
	if err != nil {
		return nil, c.Dialect.errorf("journal of %s: %w", executionID, err)
	}
	return out, nil
}

func scanJournalEntry(row Row) (store.JournalEntry, error) {
	var j store.JournalEntry
	var data []byte
	var at string
	if err := row.Scan(&j.Seq, &j.Key, &j.Kind, &data, &at); err != nil {
		return j, err
	}
	j.Data = decodeJSON(data)
	var err error
	j.At, err = DecodeTime(at)
	return j, err
}

// Events returns up to limit events of an execution with Seq > after, in order; a
// limit of 0 or less means all.
func (c *Core) Events(ctx context.Context, executionID string, after int64, limit int) ([]store.Event, error) {
	q := `SELECT seq, at, type, step, level, message, data FROM events WHERE execution_id = ? AND seq > ? ORDER BY seq`
	args := []any{executionID, after}
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	scan := func(row Row) (store.Event, error) {
		ev := store.Event{ExecutionID: executionID}
		var data []byte
		var at string
		if err := row.Scan(&ev.Seq, &at, &ev.Type, &ev.Step, &ev.Level, &ev.Message, &data); err != nil {
			return ev, err
		}
		ev.Data = decodeJSON(data)
		var err error
		ev.At, err = DecodeTime(at)
		return ev, err
	}
	out, err := query(ctx, c.reader(), scan, q, args...)
	if err != nil {
		return nil, c.Dialect.errorf("events of %s: %w", executionID, err)
	}
	return out, nil
}

// GetService returns the state of one service in one environment, or store.ErrNotFound.
func (c *Core) GetService(ctx context.Context, environment, service string) (store.ServiceState, error) {
	rows, err := c.queryServices(ctx, `WHERE environment = ? AND service = ?`, environment, service)
	if err == nil && len(rows) == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.ServiceState{}, c.Dialect.errorf("get service %s/%s: %w", environment, service, err)
	}
	return rows[0], nil
}

// ListServices returns the services of an environment (of all when empty).
func (c *Core) ListServices(ctx context.Context, environment string) ([]store.ServiceState, error) {
	var out []store.ServiceState
	var err error
	if environment == "" {
		out, err = c.queryServices(ctx, ``)
	} else {
		out, err = c.queryServices(ctx, `WHERE environment = ?`, environment)
	}
	if err != nil {
		return nil, c.Dialect.errorf("list services %q: %w", environment, err)
	}
	return out, nil
}

func (c *Core) queryServices(ctx context.Context, where string, args ...any) ([]store.ServiceState, error) {
	return query(ctx, c.reader(), scanService, `SELECT environment, service, live_slot, artifact, instances,
		execution_id, updated_at FROM services `+where+` ORDER BY environment, service`, args...)
}

func scanService(row Row) (store.ServiceState, error) {
	var sv store.ServiceState
	var at string
	if err := row.Scan(&sv.Environment, &sv.Service, &sv.LiveSlot, &sv.Artifact, &sv.Instances, &sv.ExecutionID, &at); err != nil {
		return sv, err
	}
	var err error
	sv.UpdatedAt, err = DecodeTime(at)
	return sv, err
}
