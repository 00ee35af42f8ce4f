package sqlstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store"
)

const tokenColumns = `id, hash, kind, parent, user_name, groups, description, created_at, created_by,
	expires_at, revoked_at, revoked_by`

// CreateToken inserts a token; an id already taken is store.ErrConflict.
func (c *Core) CreateToken(ctx context.Context, t auth.Token) error {
	err := c.write(ctx, func(ctx context.Context, tx DB) error { return c.insertToken(ctx, tx, t) })
	if err != nil {
		return c.Dialect.errorf("create token %s: %w", t.ID, err)
	}
	return nil
}

func (c *Core) insertToken(ctx context.Context, tx DB, t auth.Token) error {
	_, err := tx.Exec(ctx, `INSERT INTO auth_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.Kind, t.Parent, t.User, strings.Join(t.Groups, ","), t.Description, EncodeTime(t.CreatedAt),
		t.CreatedBy, OptTime(t.ExpiresAt), OptTime(t.RevokedAt), t.RevokedBy)
	if err != nil && c.Dialect.Unique(err) {
		return store.ErrConflict
	}
	return err
}

func scanToken(row Row) (auth.Token, error) {
	var t auth.Token
	var groups, created, expires, revoked string
	if err := row.Scan(&t.ID, &t.Hash, &t.Kind, &t.Parent, &t.User, &groups, &t.Description, &created, &t.CreatedBy,
		&expires, &revoked, &t.RevokedBy); err != nil {
		return t, err
	}
	if groups != "" {
		t.Groups = strings.Split(groups, ",")
	}
	var errs [3]error
	t.CreatedAt, errs[0] = DecodeTime(created)
	t.ExpiresAt, errs[1] = decodeOptTime(expires)
	t.RevokedAt, errs[2] = decodeOptTime(revoked)
	return t, errors.Join(errs[:]...)
}

// GetToken returns one token.
func (c *Core) GetToken(ctx context.Context, id string) (auth.Token, error) {
	t, err := scanToken(c.reader().QueryRow(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE id = ?`, id))
	if err != nil {
		return t, c.Dialect.errorf("get token %s: %w", id, err)
	}
	return t, nil
}

// ListTokens returns the tokens of a kind (of all when empty), oldest first.
func (c *Core) ListTokens(ctx context.Context, kind string) ([]auth.Token, error) {
	out, err := query(ctx, c.reader(), scanToken, `SELECT `+tokenColumns+` FROM auth_tokens WHERE ? = '' OR kind = ?
		ORDER BY created_at, id`, kind, kind)
	if err != nil {
		return nil, c.Dialect.errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken revokes a token and its sessions.
func (c *Core) RevokeToken(ctx context.Context, id, by string, at time.Time) (auth.Token, error) {
	var out auth.Token
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		if _, err := tx.Exec(ctx, `UPDATE auth_tokens SET revoked_at = ?, revoked_by = ?
			WHERE (id = ? OR parent = ?) AND revoked_at = ''`, EncodeTime(at), by, id, id); err != nil {
			return err
		}
		var err error
		out, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE id = ?`, id))
		return err
	})
	if err != nil {
		return auth.Token{}, c.Dialect.errorf("revoke token %s: %w", id, err)
	}
	return out, nil
}

// Bootstrap stores the first admin token and grant unless an active admin token
// exists; where the dialect locks, servers starting together decide one at a time.
func (c *Core) Bootstrap(ctx context.Context, t auth.Token, g auth.Grant) (bool, error) {
	var created bool
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		if c.Dialect.Lock != nil {
			if err := c.Dialect.Lock(ctx, tx, "sluice/bootstrap"); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM auth_tokens t JOIN auth_grants g
			ON g.subject = t.user_name AND g.role = 'admin' AND g.environment = '*'
			WHERE t.kind = 'api' AND t.revoked_at = '' AND (t.expires_at = '' OR t.expires_at > ?)`,
			EncodeTime(t.CreatedAt)).Scan(&n); err != nil || n > 0 {
			return err
		}
		if err := c.insertToken(ctx, tx, t); err != nil {
			return err
		}
		if _, err := putGrant(ctx, tx, g); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, c.Dialect.errorf("bootstrap: %w", err)
	}
	return created, nil
}

func putGrant(ctx context.Context, tx DB, g auth.Grant) (bool, error) {
	n, err := tx.Exec(ctx, `INSERT INTO auth_grants (subject, role, environment, created_at, created_by)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, g.Subject, string(g.Role), g.Environment,
		EncodeTime(g.CreatedAt), g.CreatedBy)
	return n > 0, err
}

// PutGrant stores a grant and says whether it is new.
func (c *Core) PutGrant(ctx context.Context, g auth.Grant) (bool, error) {
	var created bool
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		var err error
		created, err = putGrant(ctx, tx, g)
		return err
	})
	if err != nil {
		return false, c.Dialect.errorf("put grant: %w", err)
	}
	return created, nil
}

// DeleteGrant removes a grant, or returns store.ErrNotFound.
func (c *Core) DeleteGrant(ctx context.Context, g auth.Grant) error {
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		n, err := tx.Exec(ctx, `DELETE FROM auth_grants WHERE subject = ? AND role = ? AND environment = ?`,
			g.Subject, string(g.Role), g.Environment)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return c.Dialect.errorf("delete grant: %w", err)
	}
	return nil
}

// ListGrants returns every grant.
func (c *Core) ListGrants(ctx context.Context) ([]auth.Grant, error) {
	scan := func(row Row) (auth.Grant, error) {
		var g auth.Grant
		var role, created string
		if err := row.Scan(&g.Subject, &role, &g.Environment, &created, &g.CreatedBy); err != nil {
			return g, err
		}
		g.Role = auth.Role(role)
		var err error
		g.CreatedAt, err = DecodeTime(created)
		return g, err
	}
	out, err := query(ctx, c.reader(), scan, `SELECT subject, role, environment, created_at, created_by FROM auth_grants
		ORDER BY subject, environment, role`)
	if err != nil {
		return nil, c.Dialect.errorf("list grants: %w", err)
	}
	return out, nil
}
