package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/audit"

	"github.com/sluicehq/sluice/internal/store/sqlstore"
)

// AppendAudit bounds an audit entry, inserts it and sets its Seq.
func (s *Store) AppendAudit(ctx context.Context, e *audit.Entry) error {
	audit.Bound(e)
	if e.Count == 0 {
		e.Count = 1
	}
	var seq int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		var n int64
		err := tx.QueryRowContext(ctx, `INSERT INTO audit_log (at, actor, method, token_id, remote, action, target,
			environment, outcome, status, summary, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
			sqlstore.EncodeTime(e.At), e.Actor, e.Method, e.TokenID, e.Remote, e.Action, e.Target, e.Environment, e.Outcome,
			e.Status, e.Summary, e.Count).Scan(&n)
		return func() { seq = n }, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: append audit entry: %w", err)
	}
	e.Seq = seq
	return nil
}

// ListAudit returns the entries matching f in Seq order (descending with Newest).
func (s *Store) ListAudit(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	where := []string{"seq > ?"}
	args := []any{f.After}
	for _, c := range []struct{ col, val string }{
		{"actor", f.Actor}, {"action", f.Action}, {"environment", f.Environment}, {"outcome", f.Outcome},
	} {
		if c.val != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if f.Before > 0 {
		where, args = append(where, "seq < ?"), append(args, f.Before)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, sqlstore.EncodeTime(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, sqlstore.EncodeTime(f.Until))
	}
	q := `SELECT seq, at, actor, method, token_id, remote, action, target, environment, outcome, status, summary, count
		FROM audit_log WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if f.Newest {
		q += " DESC"
	}
	if f.Limit > 0 {
		q, args = q+" LIMIT ?", append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		var at string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Method, &e.TokenID, &e.Remote, &e.Action, &e.Target,
			&e.Environment, &e.Outcome, &e.Status, &e.Summary, &e.Count); err != nil {
			return nil, fmt.Errorf("sqlite: list audit: %w", err)
		}
		if e.At, err = sqlstore.DecodeTime(at); err != nil {
			return nil, fmt.Errorf("sqlite: list audit: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	return out, nil
}

// PruneAudit records that the entries through seq were exported to dest and removes
// them, in one transaction; the delete trigger allows exactly those rows.
func (s *Store) PruneAudit(ctx context.Context, through int64, dest string) (int64, error) {
	var removed int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_exports (through_seq, at, dest) VALUES (?, ?, ?)`,
			through, sqlstore.EncodeTime(time.Now()), dest); err != nil {
			return nil, err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE seq <= ?`, through)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		return func() { removed = n }, err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune audit through %d: %w", through, err)
	}
	return removed, nil
}
