package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store"
)

// pipelinesSchema is migration 7: pipeline runs, leased like executions.
const pipelinesSchema = `
CREATE TABLE pipeline_runs (
	id               text   NOT NULL PRIMARY KEY,
	pipeline         text   NOT NULL,
	pipeline_version bigint NOT NULL,
	variables        jsonb,
	started_by       text   NOT NULL,
	created_at       text   NOT NULL,
	updated_at       text   NOT NULL,
	status           text   NOT NULL,
	reason           text   NOT NULL,
	state            jsonb,
	version          bigint NOT NULL,
	owner            text   NOT NULL DEFAULT '',
	lease_until      text   NOT NULL DEFAULT ''
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
		return fmt.Errorf("postgres: create pipeline run %q: needs an id and version 0", r.ID)
	}
	args, err := pipelineArgs(r)
	if err != nil {
		return fmt.Errorf("postgres: create pipeline run %s: %w", r.ID, err)
	}
	done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: create pipeline run %s: %w", r.ID, err)
	}
	defer done()
	args = append(append([]any{r.ID}, args...), r.Owner, leaseTime(r.LeaseUntil))
	if _, err := s.pool.Exec(ctx, `INSERT INTO pipeline_runs (`+pipelineColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12)`, args...); err != nil {
		return fmt.Errorf("postgres: create pipeline run %s: %w", r.ID, err)
	}
	r.Version = 1
	return nil
}

// UpdatePipelineRun writes r over the stored version it carries.
func (s *Store) UpdatePipelineRun(ctx context.Context, r *store.PipelineRun) error {
	args, err := pipelineArgs(r)
	if err != nil {
		return fmt.Errorf("postgres: update pipeline run %s: %w", r.ID, err)
	}
	done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: update pipeline run %s: %w", r.ID, err)
	}
	defer done()
	args = append(args, r.ID, r.Version)
	tag, err := s.pool.Exec(ctx, `UPDATE pipeline_runs SET pipeline = $1, pipeline_version = $2, variables = $3,
		started_by = $4, created_at = $5, updated_at = $6, status = $7, reason = $8, state = $9, version = version + 1
		WHERE id = $10 AND version = $11`, args...)
	if err != nil {
		return fmt.Errorf("postgres: update pipeline run %s: %w", r.ID, err)
	}
	if tag.RowsAffected() == 1 {
		r.Version++
		return nil
	}
	var actual int64
	if err := s.pool.QueryRow(ctx, `SELECT version FROM pipeline_runs WHERE id = $1`, r.ID).Scan(&actual); err != nil {
		return fmt.Errorf("postgres: update pipeline run %s: %w", r.ID, notFound(err))
	}
	return fmt.Errorf("postgres: update pipeline run %s: %w", r.ID, &store.ConflictError{ID: r.ID, Expected: r.Version, Actual: actual})
}

// GetPipelineRun returns one run or store.ErrNotFound.
func (s *Store) GetPipelineRun(ctx context.Context, id string) (store.PipelineRun, error) {
	r, err := scanPipelineRun(s.pool.QueryRow(ctx, `SELECT `+pipelineColumns+` FROM pipeline_runs WHERE id = $1`, id))
	if err != nil {
		return r, fmt.Errorf("postgres: get pipeline run %s: %w", id, err)
	}
	return r, nil
}

// ListPipelineRuns returns the runs matching f, newest first.
func (s *Store) ListPipelineRuns(ctx context.Context, f store.PipelineRunFilter) ([]store.PipelineRun, error) {
	var where []string
	var args []any
	if f.Pipeline != "" {
		args = append(args, f.Pipeline)
		where = append(where, fmt.Sprintf("pipeline = $%d", len(args)))
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
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list pipeline runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.PipelineRun, error) { return scanPipelineRun(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list pipeline runs: %w", err)
	}
	return out, nil
}

// ClaimPipelineRuns takes over free runs for r.Owner; rows another server is claiming
// at the same moment are skipped.
func (s *Store) ClaimPipelineRuns(ctx context.Context, r store.ClaimRequest) ([]store.PipelineRun, error) {
	var limit any
	if r.Limit > 0 {
		limit = r.Limit
	}
	rows, err := s.pool.Query(ctx, `UPDATE pipeline_runs SET owner = $1, lease_until = $2, version = version + 1
		WHERE id IN (SELECT id FROM pipeline_runs WHERE `+notTerminal+`
			AND (owner = '' OR lease_until < $3 OR ($4 AND owner = $1))
			ORDER BY created_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
		RETURNING `+pipelineColumns,
		r.Owner, leaseTime(r.Until), leaseTime(r.Now), r.Own, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim pipeline runs for %s: %w", r.Owner, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.PipelineRun, error) { return scanPipelineRun(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: claim pipeline runs for %s: %w", r.Owner, err)
	}
	store.SortPipelineRunsOldestFirst(out)
	return out, nil
}

// RenewPipelineLeases extends the leases owner still holds.
func (s *Store) RenewPipelineLeases(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error) {
	out, err := s.renewLeases(ctx, "pipeline_runs", owner, ids, until)
	if err != nil {
		return nil, fmt.Errorf("postgres: renew pipeline leases of %s: %w", owner, err)
	}
	return out, nil
}

func scanPipelineRun(row pgx.Row) (store.PipelineRun, error) {
	var r store.PipelineRun
	var vars, state []byte
	var created, updated, status, lease string
	err := row.Scan(&r.ID, &r.Pipeline, &r.PipelineVersion, &vars, &r.StartedBy, &created, &updated,
		&status, &r.Reason, &state, &r.Version, &r.Owner, &lease)
	if err != nil {
		return r, notFound(err)
	}
	r.Status, r.State = store.Status(status), decodeJSON(state)
	if vars != nil {
		if err := json.Unmarshal(vars, &r.Variables); err != nil {
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
