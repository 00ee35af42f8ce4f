package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// latestDefinition reads the newest version of (kind, name), deleted or not.
func latestDefinition(ctx context.Context, db DB, kind store.Kind, name string) (store.Definition, error) {
	return scanDefinition(db.QueryRow(ctx, `SELECT `+defColumns+` FROM definitions
		WHERE kind = ? AND name = ? ORDER BY version DESC LIMIT 1`, string(kind), name))
}

// lockDefinition holds the other writers of (kind, name) back until tx ends, where the
// dialect needs it, and returns its latest version (store.ErrNotFound when there is none).
func (c *Core) lockDefinition(ctx context.Context, tx DB, kind store.Kind, name string) (store.Definition, error) {
	if c.Dialect.Lock != nil {
		if err := c.Dialect.Lock(ctx, tx, "sluice/definition/"+string(kind)+"/"+name); err != nil {
			return store.Definition{}, fmt.Errorf("lock: %w", err)
		}
	}
	return latestDefinition(ctx, tx, kind, name)
}

func insertDefinition(ctx context.Context, tx DB, d store.Definition) error {
	_, err := tx.Exec(ctx, `INSERT INTO definitions (`+defColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		string(d.Kind), d.Name, d.Version, d.Source, d.Deleted, EncodeTime(d.CreatedAt), d.CreatedBy)
	if err != nil {
		return fmt.Errorf("insert definition: %w", err)
	}
	return nil
}

// PutDefinition stores d as the next version of its definition unless it is unchanged.
func (c *Core) PutDefinition(ctx context.Context, d store.Definition) (store.Definition, bool, error) {
	if err := checkDefinitionKey(d.Kind, d.Name); err != nil {
		return store.Definition{}, false, c.Dialect.errorf("put definition: %w", err)
	}
	var stored store.Definition
	var changed bool
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		latest, err := c.lockDefinition(ctx, tx, d.Kind, d.Name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && !latest.Deleted && latest.Source == d.Source {
			stored, changed = latest, false
			return nil
		}
		stored, changed = d, true
		stored.Version, stored.Deleted, stored.CreatedAt = latest.Version+1, false, d.CreatedAt.UTC()
		return insertDefinition(ctx, tx, stored)
	})
	if err != nil {
		return store.Definition{}, false, c.Dialect.errorf("put %s %s: %w", d.Kind, d.Name, err)
	}
	return stored, changed, nil
}

// DeleteDefinition records the deletion of (kind, name) as a new version.
func (c *Core) DeleteDefinition(ctx context.Context, kind store.Kind, name string, by string, at time.Time) error {
	if err := checkDefinitionKey(kind, name); err != nil {
		return c.Dialect.errorf("delete definition: %w", err)
	}
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		latest, err := c.lockDefinition(ctx, tx, kind, name)
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
		return c.Dialect.errorf("delete %s %s: %w", kind, name, err)
	}
	return nil
}

// GetDefinition returns one version of a definition, or its latest when version is 0.
func (c *Core) GetDefinition(ctx context.Context, kind store.Kind, name string, version int64) (store.Definition, error) {
	var d store.Definition
	var err error
	if version == 0 {
		d, err = latestDefinition(ctx, c.reader(), kind, name)
		if err == nil && d.Deleted {
			err = store.ErrNotFound
		}
	} else {
		d, err = scanDefinition(c.reader().QueryRow(ctx, `SELECT `+defColumns+` FROM definitions
			WHERE kind = ? AND name = ? AND version = ?`, string(kind), name, version))
	}
	if err != nil {
		return store.Definition{}, c.Dialect.errorf("get %s %s version %d: %w", kind, name, version, err)
	}
	return d, nil
}

// ListDefinitions returns the latest version of every live definition of kind, by name.
func (c *Core) ListDefinitions(ctx context.Context, kind store.Kind) ([]store.Definition, error) {
	defs, err := query(ctx, c.reader(), scanDefinition, `SELECT d.kind, d.name, d.version, d.source, d.deleted,
		d.created_at, d.created_by FROM definitions d WHERE d.kind = ? AND d.version = (SELECT MAX(version)
		FROM definitions m WHERE m.kind = d.kind AND m.name = d.name) AND NOT d.deleted ORDER BY d.name`, string(kind))
	if err != nil {
		return nil, c.Dialect.errorf("list %s: %w", kind, err)
	}
	return defs, nil
}

// DefinitionHistory returns every version of a definition, oldest first.
func (c *Core) DefinitionHistory(ctx context.Context, kind store.Kind, name string) ([]store.Definition, error) {
	defs, err := query(ctx, c.reader(), scanDefinition, `SELECT `+defColumns+` FROM definitions
		WHERE kind = ? AND name = ? ORDER BY version`, string(kind), name)
	if err != nil {
		return nil, c.Dialect.errorf("history %s %s: %w", kind, name, err)
	}
	return defs, nil
}

func scanDefinition(row Row) (store.Definition, error) {
	var d store.Definition
	var kind, created string
	if err := row.Scan(&kind, &d.Name, &d.Version, &d.Source, &d.Deleted, &created, &d.CreatedBy); err != nil {
		return d, err
	}
	d.Kind = store.Kind(kind)
	var err error
	d.CreatedAt, err = DecodeTime(created)
	return d, err
}
