package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/store"
)

func checkDefinitionKey(kind store.Kind, name string) error {
	if kind != store.KindWorkflow && kind != store.KindEnvironment && kind != store.KindPipeline {
		return fmt.Errorf("unknown definition kind %q", kind)
	}
	if name == "" {
		return errors.New("definition without a name")
	}
	return nil
}

// latestDefinition reads the newest version of (kind, name) inside tx.
func latestDefinition(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, kind store.Kind, name string) (store.Definition, error) {
	row := q.QueryRowContext(ctx, `SELECT kind, name, version, source, deleted, created_at, created_by
		FROM definitions WHERE kind = ? AND name = ? ORDER BY version DESC LIMIT 1`, string(kind), name)
	return scanDefinition(row)
}

// PutDefinition stores d as the next version of its definition unless it is unchanged.
func (s *Store) PutDefinition(ctx context.Context, d store.Definition) (store.Definition, bool, error) {
	if err := checkDefinitionKey(d.Kind, d.Name); err != nil {
		return store.Definition{}, false, fmt.Errorf("sqlite: put definition: %w", err)
	}
	var stored store.Definition
	var changed bool
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		latest, err := latestDefinition(ctx, tx, d.Kind, d.Name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && !latest.Deleted && latest.Source == d.Source {
			return func() { stored, changed = latest, false }, nil
		}
		next := d
		next.Version = latest.Version + 1
		next.Deleted = false
		if err := insertDefinition(ctx, tx, next); err != nil {
			return nil, err
		}
		next.CreatedAt = next.CreatedAt.UTC()
		return func() { stored, changed = next, true }, nil
	})
	if err != nil {
		return store.Definition{}, false, fmt.Errorf("sqlite: put %s %s: %w", d.Kind, d.Name, err)
	}
	return stored, changed, nil
}

func insertDefinition(ctx context.Context, tx *sql.Tx, d store.Definition) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO definitions (kind, name, version, source, deleted, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, string(d.Kind), d.Name, d.Version, d.Source, boolInt(d.Deleted),
		encodeTime(d.CreatedAt), d.CreatedBy)
	if err != nil {
		return fmt.Errorf("insert definition: %w", err)
	}
	return nil
}

// DeleteDefinition records the deletion of (kind, name) as a new version.
func (s *Store) DeleteDefinition(ctx context.Context, kind store.Kind, name string, by string, at time.Time) error {
	if err := checkDefinitionKey(kind, name); err != nil {
		return fmt.Errorf("sqlite: delete definition: %w", err)
	}
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		latest, err := latestDefinition(ctx, tx, kind, name)
		if err != nil {
			return nil, err
		}
		if latest.Deleted {
			return nil, store.ErrNotFound
		}
		tomb := latest
		tomb.Version++
		tomb.Deleted = true
		tomb.CreatedAt, tomb.CreatedBy = at, by
		return nil, insertDefinition(ctx, tx, tomb)
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete %s %s: %w", kind, name, err)
	}
	return nil
}

// GetDefinition returns one version of a definition, or its latest when version is 0.
func (s *Store) GetDefinition(ctx context.Context, kind store.Kind, name string, version int64) (store.Definition, error) {
	var d store.Definition
	var err error
	if version == 0 {
		d, err = latestDefinition(ctx, s.r, kind, name)
		if err == nil && d.Deleted {
			err = store.ErrNotFound
		}
	} else {
		d, err = scanDefinition(s.r.QueryRowContext(ctx, `SELECT kind, name, version, source, deleted, created_at, created_by
			FROM definitions WHERE kind = ? AND name = ? AND version = ?`, string(kind), name, version))
	}
	if err != nil {
		return store.Definition{}, fmt.Errorf("sqlite: get %s %s version %d: %w", kind, name, version, err)
	}
	return d, nil
}

// ListDefinitions returns the latest version of every live definition of kind, by name.
func (s *Store) ListDefinitions(ctx context.Context, kind store.Kind) ([]store.Definition, error) {
	defs, err := s.queryDefinitions(ctx, `SELECT d.kind, d.name, d.version, d.source, d.deleted, d.created_at, d.created_by
		FROM definitions d WHERE d.kind = ? AND d.version = (SELECT MAX(version) FROM definitions m
		WHERE m.kind = d.kind AND m.name = d.name) AND d.deleted = 0 ORDER BY d.name`, string(kind))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", kind, err)
	}
	return defs, nil
}

// DefinitionHistory returns every version of a definition, oldest first.
func (s *Store) DefinitionHistory(ctx context.Context, kind store.Kind, name string) ([]store.Definition, error) {
	defs, err := s.queryDefinitions(ctx, `SELECT kind, name, version, source, deleted, created_at, created_by
		FROM definitions WHERE kind = ? AND name = ? ORDER BY version`, string(kind), name)
	if err != nil {
		return nil, fmt.Errorf("sqlite: history %s %s: %w", kind, name, err)
	}
	return defs, nil
}

func (s *Store) queryDefinitions(ctx context.Context, query string, args ...any) ([]store.Definition, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var defs []store.Definition
	for rows.Next() {
		d, err := scanDefinition(rows)
		if err != nil {
			return nil, err
		}
		defs = append(defs, d)
	}
	return defs, rows.Err()
}

func scanDefinition(row interface{ Scan(...any) error }) (store.Definition, error) {
	var d store.Definition
	var kind, created string
	var deleted int
	err := row.Scan(&kind, &d.Name, &d.Version, &d.Source, &deleted, &created, &d.CreatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return d, store.ErrNotFound
	}
	if err != nil {
		return d, err
	}
	d.Kind, d.Deleted = store.Kind(kind), deleted != 0
	d.CreatedAt, err = decodeTime(created)
	return d, err
}
