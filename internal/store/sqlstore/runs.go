package sqlstore

import (
	"context"

	"github.com/sluicehq/sluice/internal/store"
)

// runs describes a table of leased runs, executions or pipeline runs, which are listed
// and claimed alike.
type runs[T any] struct {
	table, columns string
	noun           string // in error messages: "executions", "pipeline runs"
	scan           func(Row) (T, error)
	sortOldest     func([]T)
}

var (
	executions   = runs[store.Execution]{"executions", ExecColumns, "executions", ScanExecution, store.SortOldestFirst}
	pipelineRuns = runs[store.PipelineRun]{"pipeline_runs", pipelineColumns, "pipeline runs", scanPipelineRun,
		store.SortPipelineRunsOldestFirst}
)

// column is one equality filter of a listing; an empty value filters nothing.
type column struct{ name, val string }

// list returns the runs whose columns equal every non-empty value of eq (and that are
// not terminal when active), newest first, at most limit when it is positive.
func (t runs[T]) list(ctx context.Context, c *Core, eq []column, active bool, limit int) ([]T, error) {
	var where []string
	var args []any
	for _, col := range eq {
		if col.val != "" {
			where, args = append(where, col.name+" = ?"), append(args, col.val)
		}
	}
	if active {
		where = append(where, NotTerminal)
	}
	q := `SELECT ` + t.columns + ` FROM ` + t.table + whereClause(where) + " ORDER BY created_at DESC, id DESC"
	if limit > 0 {
		q, args = q+" LIMIT ?", append(args, limit)
	}
	out, err := query(ctx, c.reader(), t.scan, q, args...)
	if err != nil {
		return nil, c.Dialect.errorf("list %s: %w", t.noun, err)
	}
	return out, nil
}

// claim gives r.Owner the lease of the free runs in one write, and returns them oldest
// first; where the dialect says so, rows another server is claiming at the same moment
// are skipped, not waited for.
func (t runs[T]) claim(ctx context.Context, c *Core, r store.ClaimRequest) ([]T, error) {
	q := `UPDATE ` + t.table + ` SET owner = ?, lease_until = ?, version = version + 1
		WHERE id IN (SELECT id FROM ` + t.table + ` WHERE ` + NotTerminal + `
			AND (owner = '' OR lease_until < ? OR (? AND owner = ?))
			ORDER BY created_at, id`
	args := []any{r.Owner, OptTime(r.Until), OptTime(r.Now), r.Own, r.Owner}
	if r.Limit > 0 {
		q, args = q+" LIMIT ?", append(args, r.Limit)
	}
	q += c.Dialect.SkipLocked + `) RETURNING ` + t.columns
	var out []T
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		var err error
		out, err = query(ctx, tx, t.scan, q, args...)
		return err
	})
	if err != nil {
		return nil, c.Dialect.errorf("claim %s for %s: %w", t.noun, r.Owner, err)
	}
	t.sortOldest(out)
	return out, nil
}
