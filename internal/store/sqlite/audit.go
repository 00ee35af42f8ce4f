package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/internal/audit"
)

// AppendAudit inserts an audit entry and sets its Seq.
func (s *Store) AppendAudit(ctx context.Context, e *audit.Entry) error {
	var seq int64
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		var n int64
		err := tx.QueryRowContext(ctx, `INSERT INTO audit_log (at, actor, method, token_id, remote, action, target,
			environment, outcome, status, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
			encodeTime(e.At), e.Actor, e.Method, e.TokenID, e.Remote, e.Action, e.Target, e.Environment, e.Outcome,
			e.Status, e.Summary).Scan(&n)
		return func() { seq = n }, err
	})
	if err != nil {
		return fmt.Errorf("sqlite: append audit entry: %w", err)
	}
	e.Seq = seq
	return nil
}

// ListAudit returns the entries matching f in Seq order.
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
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, encodeTime(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, encodeTime(f.Until))
	}
	q := `SELECT seq, at, actor, method, token_id, remote, action, target, environment, outcome, status, summary
		FROM audit_log WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
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
			&e.Environment, &e.Outcome, &e.Status, &e.Summary); err != nil {
			return nil, fmt.Errorf("sqlite: list audit: %w", err)
		}
		if e.At, err = decodeTime(at); err != nil {
			return nil, fmt.Errorf("sqlite: list audit: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	return out, nil
}
