package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/audit"
)

// AppendAudit bounds an audit entry, inserts it and sets its Seq.
func (c *Core) AppendAudit(ctx context.Context, e *audit.Entry) error {
	audit.Bound(e)
	if e.Count == 0 {
		e.Count = 1
	}
	var seq int64
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		return tx.QueryRow(ctx, `INSERT INTO audit_log (at, actor, method, token_id, remote, action, target,
			environment, outcome, status, summary, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
			EncodeTime(e.At), e.Actor, e.Method, e.TokenID, e.Remote, e.Action, e.Target, e.Environment, e.Outcome,
			e.Status, e.Summary, e.Count).Scan(&seq)
	})
	if err != nil {
		return c.Dialect.errorf("append audit entry: %w", err)
	}
	e.Seq = seq
	return nil
}

// ListAudit returns the entries matching f in Seq order (descending with Newest).
func (c *Core) ListAudit(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	where := []string{"seq > ?"}
	args := []any{f.After}
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	for _, col := range []struct{ name, val string }{
		{"actor", f.Actor}, {"action", f.Action}, {"environment", f.Environment}, {"outcome", f.Outcome},
	} {
		if col.val != "" {
			add(col.name+" = ?", col.val)
		}
	}
	if f.Before > 0 {
		add("seq < ?", f.Before)
	}
	if !f.Since.IsZero() {
		add("at >= ?", EncodeTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", EncodeTime(f.Until))
	}
	q := `SELECT seq, at, actor, method, token_id, remote, action, target, environment, outcome, status, summary, count
		FROM audit_log WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if f.Newest {
		q += " DESC"
	}
	if f.Limit > 0 {
		q, args = q+" LIMIT ?", append(args, f.Limit)
	}
	out, err := query(ctx, c.reader(), scanAuditEntry, q, args...)
	if err != nil {
		return nil, c.Dialect.errorf("list audit: %w", err)
	}
	return out, nil
}

func scanAuditEntry(row Row) (audit.Entry, error) {
	var e audit.Entry
	var at string
	if err := row.Scan(&e.Seq, &at, &e.Actor, &e.Method, &e.TokenID, &e.Remote, &e.Action, &e.Target,
		&e.Environment, &e.Outcome, &e.Status, &e.Summary, &e.Count); err != nil {
		return e, err
	}
	var err error
	e.At, err = DecodeTime(at)
	return e, err
}

// PruneAudit records that the entries through seq were exported to dest and removes
// them, in one transaction; the delete trigger allows exactly those rows.
func (c *Core) PruneAudit(ctx context.Context, through int64, dest string) (int64, error) {
	var removed int64
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_exports (through_seq, at, dest) VALUES (?, ?, ?)`,
			through, EncodeTime(time.Now()), dest); err != nil {
			return err
		}
		var err error
		removed, err = tx.Exec(ctx, `DELETE FROM audit_log WHERE seq <= ?`, through)
		return err
	})
	if err != nil {
		return 0, c.Dialect.errorf("prune audit through %d: %w", through, err)
	}
	return removed, nil
}
