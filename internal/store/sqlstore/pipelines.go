package sqlstore

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

const pipelineColumns = `id, pipeline, pipeline_version, variables, started_by, created_at, updated_at,
	status, reason, state, version, owner, lease_until`

// pipelineArgs encodes the columns an update writes, after id.
func pipelineArgs(r *store.PipelineRun) ([]any, error) {
	vars, state, err := encodeRun(r.Variables, r.State)
	if err != nil {
		return nil, err
	}
	return []any{r.Pipeline, r.PipelineVersion, vars, r.StartedBy, EncodeTime(r.CreatedAt), EncodeTime(r.UpdatedAt),
		string(r.Status), r.Reason, state}, nil
}

// CreatePipelineRun stores a new run with version 1.
func (c *Core) CreatePipelineRun(ctx context.Context, r *store.PipelineRun) error {
	if r.ID == "" || r.Version != 0 {
		return c.Dialect.errorf("create pipeline run %q: needs an id and version 0", r.ID)
	}
	args, err := pipelineArgs(r)
	if err != nil {
		return c.Dialect.errorf("create pipeline run %s: %w", r.ID, err)
	}
	args = append(append([]any{r.ID}, args...), r.Owner, OptTime(r.LeaseUntil))
	err = c.write(ctx, func(ctx context.Context, tx DB) error {
		_, err := tx.Exec(ctx, `INSERT INTO pipeline_runs (`+pipelineColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`, args...)
		return err
	})
	if err != nil {
		return c.Dialect.errorf("create pipeline run %s: %w", r.ID, err)
	}
	r.Version = 1
	return nil
}

// UpdatePipelineRun writes r over the stored version it carries.
func (c *Core) UpdatePipelineRun(ctx context.Context, r *store.PipelineRun) error {
	args, err := pipelineArgs(r)
	if err != nil {
		return c.Dialect.errorf("update pipeline run %s: %w", r.ID, err)
	}
	args = append(args, r.ID, r.Version)
	err = c.write(ctx, func(ctx context.Context, tx DB) error {
		n, err := tx.Exec(ctx, `UPDATE pipeline_runs SET pipeline = ?, pipeline_version = ?, variables = ?,
			started_by = ?, created_at = ?, updated_at = ?, status = ?, reason = ?, state = ?, version = version + 1
			WHERE id = ? AND version = ?`, args...)
		if err != nil || n == 1 {
			return err
		}
		var actual int64
		if err := tx.QueryRow(ctx, `SELECT version FROM pipeline_runs WHERE id = ?`, r.ID).Scan(&actual); err != nil {
			return err
		}
		return &store.ConflictError{ID: r.ID, Expected: r.Version, Actual: actual}
	})
	if err != nil {
		return c.Dialect.errorf("update pipeline run %s: %w", r.ID, err)
	}
	r.Version++
	return nil
}

// GetPipelineRun returns one run or store.ErrNotFound.
func (c *Core) GetPipelineRun(ctx context.Context, id string) (store.PipelineRun, error) {
	r, err := scanPipelineRun(c.reader().QueryRow(ctx, `SELECT `+pipelineColumns+` FROM pipeline_runs WHERE id = ?`, id))
	if err != nil {
		return r, c.Dialect.errorf("get pipeline run %s: %w", id, err)
	}
	return r, nil
}

// ListPipelineRuns returns the runs matching f, newest first.
func (c *Core) ListPipelineRuns(ctx context.Context, f store.PipelineRunFilter) ([]store.PipelineRun, error) {
	return pipelineRuns.list(ctx, c, []column{{"pipeline", f.Pipeline}}, f.Active, f.Limit)
}

// ClaimPipelineRuns takes over free runs for r.Owner in one write, like ClaimExecutions.
func (c *Core) ClaimPipelineRuns(ctx context.Context, r store.ClaimRequest) ([]store.PipelineRun, error) {
	return pipelineRuns.claim(ctx, c, r)
}

// RenewPipelineLeases extends the leases owner still holds.
func (c *Core) RenewPipelineLeases(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error) {
	return c.renewLeases(ctx, "pipeline_runs", "renew pipeline leases", owner, ids, until)
}

func scanPipelineRun(row Row) (store.PipelineRun, error) {
	var r store.PipelineRun
	var t runText
	if err := row.Scan(&r.ID, &r.Pipeline, &r.PipelineVersion, &t.vars, &r.StartedBy, &t.created, &t.updated,
		&t.status, &r.Reason, &t.state, &r.Version, &r.Owner, &t.lease); err != nil {
		return r, err
	}
	d, err := t.decode(r.ID)
	r.Variables, r.State, r.Status = d.vars, d.state, d.status
	r.CreatedAt, r.UpdatedAt, r.LeaseUntil = d.created, d.updated, d.leaseEnd
	return r, err
}
