package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

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

// ClaimExecutions takes over free executions for r.Owner in one write.
func (s *Store) ClaimExecutions(ctx context.Context, r store.ClaimRequest) ([]store.Execution, error) {
	limit := r.Limit
	if limit <= 0 {
		limit = -1
	}
	own := 0
	if r.Own {
		own = 1
	}
	var out []store.Execution
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		rows, err := tx.QueryContext(ctx, `UPDATE executions SET owner = ?, lease_until = ?, version = version + 1
			WHERE id IN (SELECT id FROM executions WHERE `+notTerminal+`
				AND (owner = '' OR lease_until < ? OR (? = 1 AND owner = ?))
				ORDER BY created_at, id LIMIT ?)
			RETURNING `+execColumns,
			r.Owner, leaseTime(r.Until), leaseTime(r.Now), own, r.Owner, limit)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var claimed []store.Execution
		for rows.Next() {
			e, err := scanExecution(rows)
			if err != nil {
				return nil, err
			}
			claimed = append(claimed, e)
		}
		return func() { out = claimed }, rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim executions for %s: %w", r.Owner, err)
	}
	store.SortOldestFirst(out)
	return out, nil
}

// RenewLeases extends the leases owner still holds.
func (s *Store) RenewLeases(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error) {
	out, err := s.renewLeases(ctx, "executions", owner, ids, until)
	if err != nil {
		return nil, fmt.Errorf("sqlite: renew leases of %s: %w", owner, err)
	}
	return out, nil
}

// renewLeases extends the lease of each listed row of table (executions or
// pipeline_runs) still owned by owner and not terminal, and returns their ids.
func (s *Store) renewLeases(ctx context.Context, table, owner string, ids []string, until time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{leaseTime(until), owner}
	for _, id := range ids {
		args = append(args, id)
	}
	var out []string
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		rows, err := tx.QueryContext(ctx, `UPDATE `+table+` SET lease_until = ?
			WHERE owner = ? AND `+notTerminal+` AND id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) RETURNING id`, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var renewed []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			renewed = append(renewed, id)
		}
		return func() { out = renewed }, rows.Err()
	})
	return out, err
}
