package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store"
)

const defColumns = `kind, name, version, source, deleted, created_at, created_by`

func checkDefinitionKey(kind store.Kind, name string) error {
	if kind != store.KindWorkflow && kind != store.KindEnvironment && kind != store.KindPipeline {
		return fmt.Errorf("unknown definition kind %q", kind)
	}
	if name == "" {
		return errors.New("definition without a name")
	}
	return nil
}

// lockDefinition serialises writers of one definition until the transaction ends and
// returns its latest version (store.ErrNotFound when there is none).
func lockDefinition(ctx context.Context, tx pgx.Tx, kind store.Kind, name string) (store.Definition, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
		"sluice/definition/"+string(kind)+"/"+name); err != nil {
		return store.Definition{}, fmt.Errorf("lock: %w", err)
	}
	return scanDefinition(tx.QueryRow(ctx, `SELECT `+defColumns+` FROM definitions
		WHERE kind = $1 AND name = $2 ORDER BY version DESC LIMIT 1`, string(kind), name))
}

func insertDefinition(ctx context.Context, tx pgx.Tx, d store.Definition) error {
	_, err := tx.Exec(ctx, `INSERT INTO definitions (`+defColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		string(d.Kind), d.Name, d.Version, d.Source, d.Deleted, encodeTime(d.CreatedAt), d.CreatedBy)
	if err != nil {
		return fmt.Errorf("insert definition: %w", err)
	}
	return nil
}

// PutDefinition stores d as the next version of its definition unless it is unchanged.
func (s *Store) PutDefinition(ctx context.Context, d store.Definition) (store.Definition, bool, error) {
	if err := checkDefinitionKey(d.Kind, d.Name); err != nil {
		return store.Definition{}, false, fmt.Errorf("postgres: put definition: %w", err)
	}
	done, err := s.begin(ctx)
	if err != nil {
		return store.Definition{}, false, fmt.Errorf("postgres: put %s %s: %w", d.Kind, d.Name, err)
	}
	defer done()
	stored, changed := d, true
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		latest, err := lockDefinition(ctx, tx, d.Kind, d.Name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && !latest.Deleted && latest.Source == d.Source {
			stored, changed = latest, false
			return nil
		}
		stored.Version, stored.Deleted, stored.CreatedAt = latest.Version+1, false, d.CreatedAt.UTC()
		return insertDefinition(ctx, tx, stored)
	})
	if err != nil {
		return store.Definition{}, false, fmt.Errorf("postgres: put %s %s: %w", d.Kind, d.Name, err)
	}
	return stored, changed, nil
}

// DeleteDefinition records the deletion of (kind, name) as a new version.
func (s *Store) DeleteDefinition(ctx context.Context, kind store.Kind, name string, by string, at time.Time) error {
	if err := checkDefinitionKey(kind, name); err != nil {
		return fmt.Errorf("postgres: delete definition: %w", err)
	}
	done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: delete %s %s: %w", kind, name, err)
	}
	defer done()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		latest, err := lockDefinition(ctx, tx, kind, name)
		if err != nil {
			return err
		}
		if latest.Deleted {
			return store.ErrNotFound
		}
		latest.Version++
		latest.Deleted, latest.CreatedAt, latest.CreatedBy = true, at, by
		return insertDefinition(ctx, tx, latest)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete %s %s: %w", kind, name, err)
	}
	return nil
}

// GetDefinition returns one version of a definition, or its latest when version is 0.
func (s *Store) GetDefinition(ctx context.Context, kind store.Kind, name string, version int64) (store.Definition, error) {
	var d store.Definition
	var err error
	if version == 0 {
		d, err = scanDefinition(s.pool.QueryRow(ctx, `SELECT `+defColumns+` FROM definitions
			WHERE kind = $1 AND name = $2 ORDER BY version DESC LIMIT 1`, string(kind), name))
		if err == nil && d.Deleted {
			err = store.ErrNotFound
		}
	} else {
		d, err = scanDefinition(s.pool.QueryRow(ctx, `SELECT `+defColumns+` FROM definitions
			WHERE kind = $1 AND name = $2 AND version = $3`, string(kind), name, version))
	}
	if err != nil {
		return store.Definition{}, fmt.Errorf("postgres: get %s %s version %d: %w", kind, name, version, err)
	}
	return d, nil
}

// ListDefinitions returns the latest version of every live definition of kind, by name.
func (s *Store) ListDefinitions(ctx context.Context, kind store.Kind) ([]store.Definition, error) {
	defs, err := s.queryDefinitions(ctx, `SELECT `+defColumns+` FROM (
		SELECT DISTINCT ON (name) `+defColumns+` FROM definitions WHERE kind = $1 ORDER BY name, version DESC
	) latest WHERE NOT deleted ORDER BY name`, string(kind))
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s: %w", kind, err)
	}
	return defs, nil
}

// DefinitionHistory returns every version of a definition, oldest first.
func (s *Store) DefinitionHistory(ctx context.Context, kind store.Kind, name string) ([]store.Definition, error) {
	defs, err := s.queryDefinitions(ctx, `SELECT `+defColumns+` FROM definitions
		WHERE kind = $1 AND name = $2 ORDER BY version`, string(kind), name)
	if err != nil {
		return nil, fmt.Errorf("postgres: history %s %s: %w", kind, name, err)
	}
	return defs, nil
}

func (s *Store) queryDefinitions(ctx context.Context, query string, args ...any) ([]store.Definition, error) {
	rows, err := s.pool.Query(ctx, query, args...)
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

func scanDefinition(row pgx.Row) (store.Definition, error) {
	var d store.Definition
	var kind, created string
	if err := row.Scan(&kind, &d.Name, &d.Version, &d.Source, &d.Deleted, &created, &d.CreatedBy); err != nil {
		return d, notFound(err)
	}
	d.Kind = store.Kind(kind)
	var err error
	d.CreatedAt, err = decodeTime(created)
	return d, err
}
