package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// Migration is one numbered, forward-only schema change. Each store keeps its own list,
// since the DDL differs in its types; a released migration is never edited or removed,
// and none drops data.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrate brings the schema to the last of migrations inside tx, recording each one it
// applies in schema_migrations, and refuses a database whose schema is newer. Where the
// dialect locks, servers that start at the same moment apply each migration once.
func (d *Dialect) Migrate(ctx context.Context, raw DB, migrations []Migration) error {
	tx := bound{raw, d} // the migrations' own DDL runs on raw, as written
	if d.Lock != nil {
		if err := d.Lock(ctx, tx, "sluice/migrate"); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer NOT NULL PRIMARY KEY,
		name       text    NOT NULL,
		applied_at text    NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	newest := migrations[len(migrations)-1].Version
	if current > newest {
		return fmt.Errorf("database schema version %d is newer than this binary supports (%d); run a newer sluice", current, newest)
	}
	for _, m := range migrations {
		if m.Version <= current {
			continue
		}
		if _, err := raw.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, EncodeTime(time.Now())); err != nil {
			return fmt.Errorf("record migration %d: %w", m.Version, err)
		}
	}
	return nil
}
