package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// pipelinesSchema is migration 7: pipeline runs, leased like executions.
const pipelinesSchema = `
CREATE TABLE pipeline_runs (
	id               TEXT    NOT NULL PRIMARY KEY,
	pipeline         TEXT    NOT NULL,
	pipeline_version INTEGER NOT NULL,
	variables        TEXT    CHECK (variables IS NULL OR json_valid(variables)),
	started_by       TEXT    NOT NULL,
	created_at       TEXT    NOT NULL,
	updated_at       TEXT    NOT NULL,
	status           TEXT    NOT NULL,
	reason           TEXT    NOT NULL,
	state            TEXT    CHECK (state IS NULL OR json_valid(state)),
	version          INTEGER NOT NULL,
	owner            TEXT    NOT NULL DEFAULT '',
	lease_until      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX pipeline_runs_created ON pipeline_runs (created_at, id);
CREATE INDEX pipeline_runs_lease ON pipeline_runs (lease_until)
	WHERE status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted');
`

const pipelineColumns = `id, pipeline, pipeline_version, variables, started_by, created_at, updated_at,
	status, reason, state, version, owner, lease_until`

var _ store.PipelineRuns = (*Store)(nil)

// pipelineArgs encodes the columns an update writes, after id.
func pipelineArgs(r *store.PipelineRun) ([]any, error) {
	var vars any
	if r.Variables != nil {
		b, err := json.Marshal(r.Variables)
		if err != nil {
			return nil, fmt.Errorf("encode variables: %w", err)
		}
		vars = string(b)
	}
	state, err := encodeJSON("state", r.State)
	if err != nil {
		return nil, err
	}
	return []any{r.Pipeline, r.PipelineVersion, vars, r.StartedBy, encodeTime(r.CreatedAt), encodeTime(r.UpdatedAt),
		string(r.Status), r.Reason, state}, nil
}

// CreatePipelineRun stores a new run with version 1.
func (s *Store) CreatePipelineRun(ctx context.Context, r *store.PipelineRun) error {
	if r.ID == "" || r.Version != 0 {
		return fmt.Errorf("sqlite: create pipeline run %q: needs an id and version 0", r.ID)
	}
	args, err := pipelineArgs(r)
	if err != nil {
		return fmt.Errorf("sqlite: create pipeline run %s: %w", r.ID, err)
	}
	args = append(append([]any{r.ID}, args...), r.Owner, leaseTime(r.LeaseUntil))
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		_, err := tx.ExecContext(ctx, `INSERT INTO pipeline_runs (`+pipelineColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`, args...)
		return func() { r.Version = 1 }, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create pipeline run %s: %w", r.ID, err)
	}
	return nil
}

// UpdatePipelineRun writes r over the stored version it carries.
func (s *Store) UpdatePipelineRun(ctx context.Context, r *store.PipelineRun) error {
	args, err := pipelineArgs(r)
	if err != nil {
		return fmt.Errorf("sqlite: update pipeline run %s: %w", r.ID, err)
	}
	args = append(args, r.ID, r.Version)
	err = s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		res, err := tx.ExecContext(ctx, `UPDATE pipeline_runs SET pipeline = ?, pipeline_version = ?, variables = ?,
			started_by = ?, created_at = ?, updated_at = ?, status = ?, reason = ?, state = ?, version = version + 1
			WHERE id = ? AND version = ?`, args...)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return func() { r.Version++ }, err
		}
		var actual int64
		if err := tx.QueryRowContext(ctx, `SELECT version FROM pipeline_runs WHERE id = ?`, r.ID).Scan(&actual); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, store.ErrNotFound
			}
			return nil, err
		}
		return nil, &store.ConflictError{ID: r.ID, Expected: r.Version, Actual: actual}
	})
	if err != nil {
		return fmt.Errorf("sqlite: update pipeline run %s: %w", r.ID, err)
	}
	return nil
}

// GetPipelineRun returns one run or store.ErrNotFound.
func (s *Store) GetPipelineRun(ctx context.Context, id string) (store.PipelineRun, error) {
	r, err := scanPipelineRun(s.r.QueryRowContext(ctx, `SELECT `+pipelineColumns+` FROM pipeline_runs WHERE id = ?`, id))
	if err != nil {
		return r, fmt.Errorf("sqlite: get pipeline run %s: %w", id, err)
	}
	return r, nil
}

// ListPipelineRuns returns the runs matching f, newest first.
func (s *Store) ListPipelineRuns(ctx context.Context, f store.PipelineRunFilter) ([]store.PipelineRun, error) {
	var where []string
	var args []any
	if f.Pipeline != "" {
		where, args = append(where, "pipeline = ?"), append(args, f.Pipeline)
	}
	if f.Active {
		where = append(where, notTerminal)
	}
	q := `SELECT ` + pipelineColumns + ` FROM pipeline_runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list pipeline runs: %w", err)
	}
	out, err := collectPipelineRuns(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list pipeline runs: %w", err)
	}
	return out, nil
}

func collectPipelineRuns(rows *sql.Rows) ([]store.PipelineRun, error) {
	defer rows.Close()
	var out []store.PipelineRun
	for rows.Next() {
		r, err := scanPipelineRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ClaimPipelineRuns takes over free runs for r.Owner in one write.
func (s *Store) ClaimPipelineRuns(ctx context.Context, r store.ClaimRequest) ([]store.PipelineRun, error) {
	limit := r.Limit
	if limit <= 0 {
		limit = -1
	}
	own := 0
	if r.Own {
		own = 1
	}
	var out []store.PipelineRun
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		rows, err := tx.QueryContext(ctx, `UPDATE pipeline_runs SET owner = ?, lease_until = ?, version = version + 1
			WHERE id IN (SELECT id FROM pipeline_runs WHERE `+notTerminal+`
				AND (owner = '' OR lease_until < ? OR (? = 1 AND owner = ?))
				ORDER BY created_at, id LIMIT ?)
			RETURNING `+pipelineColumns,
			r.Owner, leaseTime(r.Until), leaseTime(r.Now), own, r.Owner, limit)
		if err != nil {
			return nil, err
		}
		claimed, err := collectPipelineRuns(rows)
		return func() { out = claimed }, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim pipeline runs for %s: %w", r.Owner, err)
	}
	store.SortPipelineRunsOldestFirst(out)
	return out, nil
}

// RenewPipelineLeases extends the leases owner still holds.
func (s *Store) RenewPipelineLeases(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error) {
	out, err := s.renewLeases(ctx, "pipeline_runs", owner, ids, until)
	if err != nil {
		return nil, fmt.Errorf("sqlite: renew pipeline leases of %s: %w", owner, err)
	}
	return out, nil
}

func scanPipelineRun(row interface{ Scan(...any) error }) (store.PipelineRun, error) {
	var r store.PipelineRun
	var vars, state sql.NullString
	var created, updated, status, lease string
	err := row.Scan(&r.ID, &r.Pipeline, &r.PipelineVersion, &vars, &r.StartedBy, &created, &updated,
		&status, &r.Reason, &state, &r.Version, &r.Owner, &lease)
	if errors.Is(err, sql.ErrNoRows) {
		return r, store.ErrNotFound
	}
	if err != nil {
		return r, err
	}
	r.Status, r.State = store.Status(status), decodeJSON(state)
	if vars.Valid {
		if err := json.Unmarshal([]byte(vars.String), &r.Variables); err != nil {
			return r, fmt.Errorf("decode variables of %s: %w", r.ID, err)
		}
	}
	if r.CreatedAt, err = decodeTime(created); err != nil {
		return r, err
	}
	if lease != "" {
		if r.LeaseUntil, err = decodeTime(lease); err != nil {
			return r, err
		}
	}
	r.UpdatedAt, err = decodeTime(updated)
	return r, err
}
