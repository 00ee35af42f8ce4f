package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store"
)

// notTerminal is the SQL condition of an execution that can still change.
const notTerminal = "status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted')"

// leaseTime encodes a lease end; the zero time is the empty string, before every lease.
func leaseTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return encodeTime(t)
}

// ClaimExecutions takes over free executions for r.Owner. Rows another server is
// claiming at the same moment are skipped, not waited for.
func (s *Store) ClaimExecutions(ctx context.Context, r store.ClaimRequest) ([]store.Execution, error) {
	var limit any
	if r.Limit > 0 {
		limit = r.Limit
	}
	rows, err := s.pool.Query(ctx, `UPDATE executions SET owner = $1, lease_until = $2, version = version + 1
		WHERE id IN (SELECT id FROM executions WHERE `+notTerminal+`
			AND (owner = '' OR lease_until < $3 OR ($4 AND owner = $1))
			ORDER BY created_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
		RETURNING `+execColumns,
		r.Owner, leaseTime(r.Until), leaseTime(r.Now), r.Own, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim executions for %s: %w", r.Owner, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Execution, error) { return scanExecution(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: claim executions for %s: %w", r.Owner, err)
	}
	store.SortOldestFirst(out)
	return out, nil
}

// RenewLeases extends the leases owner still holds.
func (s *Store) RenewLeases(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error) {
	out, err := s.renewLeases(ctx, "executions", owner, ids, until)
	if err != nil {
		return nil, fmt.Errorf("postgres: renew leases of %s: %w", owner, err)
	}
	return out, nil
}

// renewLeases extends the lease of each listed row of table (executions or
// pipeline_runs) still owned by owner and not terminal, and returns their ids.
func (s *Store) renewLeases(ctx context.Context, table, owner string, ids []string, until time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE `+table+` SET lease_until = $1
		WHERE owner = $2 AND `+notTerminal+` AND id = ANY($3) RETURNING id`, leaseTime(until), owner, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
