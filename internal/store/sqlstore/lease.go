package sqlstore

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

// ClaimExecutions takes over free executions for r.Owner in one write; where the
// dialect says so, rows another server is claiming at the same moment are skipped,
// not waited for.
func (c *Core) ClaimExecutions(ctx context.Context, r store.ClaimRequest) ([]store.Execution, error) {
	return executions.claim(ctx, c, r)
}

// RenewLeases extends the leases owner still holds.
func (c *Core) RenewLeases(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error) {
	return c.renewLeases(ctx, "executions", "renew leases", owner, ids, until)
}

// renewLeases extends the lease of each listed row of table (executions or
// pipeline_runs) still owned by owner and not terminal, and returns their ids; its
// errors start with what it does ("renew leases").
func (c *Core) renewLeases(ctx context.Context, table, what, owner string, ids []string, until time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{OptTime(until), owner}
	for _, id := range ids {
		args = append(args, id)
	}
	scan := func(row Row) (string, error) {
		var id string
		err := row.Scan(&id)
		return id, err
	}
	var out []string
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		var err error
		out, err = query(ctx, tx, scan, `UPDATE `+table+` SET lease_until = ?
			WHERE owner = ? AND `+NotTerminal+` AND id IN (`+placeholders(len(ids))+`) RETURNING id`, args...)
		return err
	})
	if err != nil {
		return nil, c.Dialect.errorf("%s of %s: %w", what, owner, err)
	}
	return out, nil
}
