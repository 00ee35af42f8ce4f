package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

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
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		return nil, insertToken(ctx, tx, t)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create token %s: %w", t.ID, err)
	}
	return nil
}

func insertToken(ctx context.Context, tx *sql.Tx, t auth.Token) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_tokens WHERE id = ?`, t.ID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return store.ErrConflict
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO auth_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.Kind, t.Parent, t.User, strings.Join(t.Groups, ","), t.Description, sqlstore.EncodeTime(t.CreatedAt),
		t.CreatedBy, optTime(t.ExpiresAt), optTime(t.RevokedAt), t.RevokedBy)
	return err
}

func scanToken(row interface{ Scan(...any) error }) (auth.Token, error) {
	var t auth.Token
	var groups, created, expires, revoked string
	err := row.Scan(&t.ID, &t.Hash, &t.Kind, &t.Parent, &t.User, &groups, &t.Description, &created, &t.CreatedBy,
		&expires, &revoked, &t.RevokedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return t, store.ErrNotFound
	}
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
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE id = ?`, id))
	if err != nil {
		return t, fmt.Errorf("sqlite: get token %s: %w", id, err)
	}
	return t, nil
}

// ListTokens returns the tokens of a kind, oldest first.
func (s *Store) ListTokens(ctx context.Context, kind string) ([]auth.Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE ? = '' OR kind = ?
		ORDER BY created_at, id`, kind, kind)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	defer rows.Close()
	var out []auth.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes a token and its sessions.
func (s *Store) RevokeToken(ctx context.Context, id, by string, at time.Time) (auth.Token, error) {
	var out auth.Token
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		if _, err := tx.ExecContext(ctx, `UPDATE auth_tokens SET revoked_at = ?, revoked_by = ?
			WHERE (id = ? OR parent = ?) AND revoked_at = ''`, sqlstore.EncodeTime(at), by, id, id); err != nil {
			return nil, err
		}
		t, err := scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE id = ?`, id))
		if err != nil {
			return nil, err
		}
		return func() { out = t }, nil
	})
	if err != nil {
		return auth.Token{}, fmt.Errorf("sqlite: revoke token %s: %w", id, err)
	}
	return out, nil
}

// Bootstrap stores the first admin token and grant unless an active admin token exists.
func (s *Store) Bootstrap(ctx context.Context, t auth.Token, g auth.Grant) (bool, error) {
	var created bool
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		var n int
		now := sqlstore.EncodeTime(t.CreatedAt)
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_tokens t JOIN auth_grants g
			ON g.subject = t.user_name AND g.role = 'admin' AND g.environment = '*'
			WHERE t.kind = 'api' AND t.revoked_at = '' AND (t.expires_at = '' OR t.expires_at > ?)`, now).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, nil
		}
		if err := insertToken(ctx, tx, t); err != nil {
			return nil, err
		}
		if _, err := putGrant(ctx, tx, g); err != nil {
			return nil, err
		}
		return func() { created = true }, nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: bootstrap: %w", err)
	}
	return created, nil
}

func putGrant(ctx context.Context, tx *sql.Tx, g auth.Grant) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO auth_grants (subject, role, environment, created_at, created_by)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, g.Subject, string(g.Role), g.Environment,
		sqlstore.EncodeTime(g.CreatedAt), g.CreatedBy)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// PutGrant stores a grant.
func (s *Store) PutGrant(ctx context.Context, g auth.Grant) (bool, error) {
	var created bool
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		c, err := putGrant(ctx, tx, g)
		return func() { created = c }, err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: put grant: %w", err)
	}
	return created, nil
}

// DeleteGrant removes a grant.
func (s *Store) DeleteGrant(ctx context.Context, g auth.Grant) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		res, err := tx.ExecContext(ctx, `DELETE FROM auth_grants WHERE subject = ? AND role = ? AND environment = ?`,
			g.Subject, string(g.Role), g.Environment)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return nil, errors.Join(err, store.ErrNotFound)
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete grant: %w", err)
	}
	return nil
}

// ListGrants returns every grant.
func (s *Store) ListGrants(ctx context.Context) ([]auth.Grant, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT subject, role, environment, created_at, created_by FROM auth_grants
		ORDER BY subject, environment, role`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list grants: %w", err)
	}
	defer rows.Close()
	var out []auth.Grant
	for rows.Next() {
		var g auth.Grant
		var role, created string
		if err := rows.Scan(&g.Subject, &role, &g.Environment, &created, &g.CreatedBy); err != nil {
			return nil, fmt.Errorf("sqlite: list grants: %w", err)
		}
		g.Role = auth.Role(role)
		if g.CreatedAt, err = sqlstore.DecodeTime(created); err != nil {
			return nil, fmt.Errorf("sqlite: list grants: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list grants: %w", err)
	}
	return out, nil
}
