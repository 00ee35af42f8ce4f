package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlstore"
)

var (
	_ auth.Store  = (*Store)(nil)
	_ audit.Store = (*Store)(nil)
)

const tokenColumns = `id, hash, kind, parent, user_name, groups, description, created_at, created_by,
	expires_at, revoked_at, revoked_by`

// optTime encodes a time that may be zero as "".
func optTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return sqlstore.EncodeTime(t)
}

func decodeOptTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return sqlstore.DecodeTime(s)
}

// CreateToken inserts a token.
func (s *Store) CreateToken(ctx context.Context, t auth.Token) error {
	done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: create token %s: %w", t.ID, err)
	}
	defer done()
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return insertToken(ctx, tx, t) }); err != nil {
		return fmt.Errorf("postgres: create token %s: %w", t.ID, err)
	}
	return nil
}

func insertToken(ctx context.Context, tx pgx.Tx, t auth.Token) error {
	_, err := tx.Exec(ctx, `INSERT INTO auth_tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		t.ID, t.Hash, t.Kind, t.Parent, t.User, strings.Join(t.Groups, ","), t.Description, sqlstore.EncodeTime(t.CreatedAt),
		t.CreatedBy, optTime(t.ExpiresAt), optTime(t.RevokedAt), t.RevokedBy)
	if uniqueViolation(err) != "" {
		return store.ErrConflict
	}
	return err
}

func scanToken(row pgx.Row) (auth.Token, error) {
	var t auth.Token
	var groups, created, expires, revoked string
	err := notFound(row.Scan(&t.ID, &t.Hash, &t.Kind, &t.Parent, &t.User, &groups, &t.Description, &created,
		&t.CreatedBy, &expires, &revoked, &t.RevokedBy))
	if err != nil {
		return t, err
	}
	if groups != "" {
		t.Groups = strings.Split(groups, ",")
	}
	var errs [3]error
	t.CreatedAt, errs[0] = sqlstore.DecodeTime(created)
	t.ExpiresAt, errs[1] = decodeOptTime(expires)
	t.RevokedAt, errs[2] = decodeOptTime(revoked)
	return t, errors.Join(errs[:]...)
}

// GetToken returns one token.
func (s *Store) GetToken(ctx context.Context, id string) (auth.Token, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return auth.Token{}, fmt.Errorf("postgres: get token %s: %w", id, err)
	}
	defer done()
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE id = $1`, id))
	if err != nil {
		return t, fmt.Errorf("postgres: get token %s: %w", id, err)
	}
	return t, nil
}

// ListTokens returns the tokens of a kind, oldest first.
func (s *Store) ListTokens(ctx context.Context, kind string) ([]auth.Token, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	defer done()
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE $1 = '' OR kind = $1
		ORDER BY created_at, id`, kind)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	defer rows.Close()
	var out []auth.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes a token and its sessions.
func (s *Store) RevokeToken(ctx context.Context, id, by string, at time.Time) (auth.Token, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return auth.Token{}, fmt.Errorf("postgres: revoke token %s: %w", id, err)
	}
	defer done()
	var out auth.Token
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE auth_tokens SET revoked_at = $1, revoked_by = $2
			WHERE (id = $3 OR parent = $3) AND revoked_at = ''`, sqlstore.EncodeTime(at), by, id); err != nil {
			return err
		}
		out, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return auth.Token{}, fmt.Errorf("postgres: revoke token %s: %w", id, err)
	}
	return out, nil
}

// Bootstrap stores the first admin token and grant unless an active admin token exists;
// an advisory lock makes servers starting together decide one at a time.
func (s *Store) Bootstrap(ctx context.Context, t auth.Token, g auth.Grant) (bool, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: bootstrap: %w", err)
	}
	defer done()
	created := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('sluice/bootstrap', 0))`); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM auth_tokens t JOIN auth_grants g
			ON g.subject = t.user_name AND g.role = 'admin' AND g.environment = '*'
			WHERE t.kind = 'api' AND t.revoked_at = '' AND (t.expires_at = '' OR t.expires_at > $1)`,
			sqlstore.EncodeTime(t.CreatedAt)).Scan(&n); err != nil || n > 0 {
			return err
		}
		if err := insertToken(ctx, tx, t); err != nil {
			return err
		}
		if _, err := putGrant(ctx, tx, g); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("postgres: bootstrap: %w", err)
	}
	return created, nil
}

func putGrant(ctx context.Context, tx pgx.Tx, g auth.Grant) (bool, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO auth_grants (subject, role, environment, created_at, created_by)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, g.Subject, string(g.Role), g.Environment,
		sqlstore.EncodeTime(g.CreatedAt), g.CreatedBy)
	return tag.RowsAffected() > 0, err
}

// PutGrant stores a grant.
func (s *Store) PutGrant(ctx context.Context, g auth.Grant) (bool, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: put grant: %w", err)
	}
	defer done()
	var created bool
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		created, err = putGrant(ctx, tx, g)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: put grant: %w", err)
	}
	return created, nil
}

// DeleteGrant removes a grant.
func (s *Store) DeleteGrant(ctx context.Context, g auth.Grant) error {
	done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: delete grant: %w", err)
	}
	defer done()
	tag, err := s.pool.Exec(ctx, `DELETE FROM auth_grants WHERE subject = $1 AND role = $2 AND environment = $3`,
		g.Subject, string(g.Role), g.Environment)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: delete grant: %w", err)
	}
	return nil
}

// ListGrants returns every grant.
func (s *Store) ListGrants(ctx context.Context) ([]auth.Grant, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: list grants: %w", err)
	}
	defer done()
	rows, err := s.pool.Query(ctx, `SELECT subject, role, environment, created_at, created_by FROM auth_grants
		ORDER BY subject, environment, role`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list grants: %w", err)
	}
	defer rows.Close()
	var out []auth.Grant
	for rows.Next() {
		var g auth.Grant
		var role, created string
		if err := rows.Scan(&g.Subject, &role, &g.Environment, &created, &g.CreatedBy); err != nil {
			return nil, fmt.Errorf("postgres: list grants: %w", err)
		}
		g.Role = auth.Role(role)
		if g.CreatedAt, err = sqlstore.DecodeTime(created); err != nil {
			return nil, fmt.Errorf("postgres: list grants: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list grants: %w", err)
	}
	return out, nil
}

// AppendAudit bounds an audit entry, inserts it and sets its Seq.
func (s *Store) AppendAudit(ctx context.Context, e *audit.Entry) error {
	audit.Bound(e)
	if e.Count == 0 {
		e.Count = 1
	}
	done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: append audit entry: %w", err)
	}
	defer done()
	err = s.pool.QueryRow(ctx, `INSERT INTO audit_log (at, actor, method, token_id, remote, action, target,
		environment, outcome, status, summary, count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING seq`,
		sqlstore.EncodeTime(e.At), e.Actor, e.Method, e.TokenID, e.Remote, e.Action, e.Target, e.Environment, e.Outcome,
		e.Status, e.Summary, e.Count).Scan(&e.Seq)
	if err != nil {
		return fmt.Errorf("postgres: append audit entry: %w", err)
	}
	return nil
}

// ListAudit returns the entries matching f in Seq order (descending with Newest).
func (s *Store) ListAudit(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	defer done()
	where, args := []string{"seq > $1"}, []any{f.After}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	for _, c := range []struct{ col, val string }{
		{"actor", f.Actor}, {"action", f.Action}, {"environment", f.Environment}, {"outcome", f.Outcome},
	} {
		if c.val != "" {
			add(c.col+" = $%d", c.val)
		}
	}
	if f.Before > 0 {
		add("seq < $%d", f.Before)
	}
	if !f.Since.IsZero() {
		add("at >= $%d", sqlstore.EncodeTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < $%d", sqlstore.EncodeTime(f.Until))
	}
	q := `SELECT seq, at, actor, method, token_id, remote, action, target, environment, outcome, status, summary, count
		FROM audit_log WHERE ` + strings.Join(where, " AND ") + ` ORDER BY seq`
	if f.Newest {
		q += " DESC"
	}
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		var at string
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Method, &e.TokenID, &e.Remote, &e.Action, &e.Target,
			&e.Environment, &e.Outcome, &e.Status, &e.Summary, &e.Count); err != nil {
			return nil, fmt.Errorf("postgres: list audit: %w", err)
		}
		if e.At, err = sqlstore.DecodeTime(at); err != nil {
			return nil, fmt.Errorf("postgres: list audit: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list audit: %w", err)
	}
	return out, nil
}

// PruneAudit records that the entries through seq were exported to dest and removes
// them, in one transaction; the delete trigger allows exactly those rows.
func (s *Store) PruneAudit(ctx context.Context, through int64, dest string) (int64, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune audit through %d: %w", through, err)
	}
	defer done()
	var removed int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_exports (through_seq, at, dest) VALUES ($1, $2, $3)`,
			through, sqlstore.EncodeTime(time.Now()), dest); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM audit_log WHERE seq <= $1`, through)
		removed = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: prune audit through %d: %w", through, err)
	}
	return removed, nil
}
