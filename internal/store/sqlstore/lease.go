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
	out, err := claim(ctx, c, "executions", ExecColumns, ScanExecution, r)
	if err != nil {
		return nil, c.Dialect.errorf("claim executions for %s: %w", r.Owner, err)
	}
	store.SortOldestFirst(out)
	return out, nil
}

// claim gives r.Owner the lease of the free rows of table (executions or
// pipeline_runs), oldest first, and returns them read as columns by scan.
func claim[T any](ctx context.Context, c *Core, table, columns string, scan func(Row) (T, error), r store.ClaimRequest) ([]T, error) {
	q := `UPDATE ` + table + ` SET owner = ?, lease_until = ?, version = version + 1
		WHERE id IN (SELECT id FROM ` + table + ` WHERE ` + NotTerminal + `
			AND (owner = '' OR lease_until < ? OR (? AND owner = ?))
			ORDER BY created_at, id`
	args := []any{r.Owner, OptTime(r.Until), OptTime(r.Now), r.Own, r.Owner}
	if r.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, r.Limit)
	}
	q += c.Dialect.SkipLocked + `) RETURNING ` + columns
	var out []T
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		var err error
		out, err = query(ctx, tx, scan, q, args...)
		return err
	})
	return out, err
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
