package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/internal/store/sqlstore"
)

// migration is one numbered, forward-only schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are applied in order; a released migration is never edited or removed, and
// none drops data.
var migrations = []migration{
	{1, "initial schema", `
CREATE TABLE definitions (
	kind       TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	source     TEXT    NOT NULL,
	deleted    INTEGER NOT NULL DEFAULT 0,
	created_at TEXT    NOT NULL,
	created_by TEXT    NOT NULL,
	PRIMARY KEY (kind, name, version)
);
CREATE TABLE executions (
	id                  TEXT    NOT NULL PRIMARY KEY,
	workflow            TEXT    NOT NULL,
	workflow_version    INTEGER NOT NULL,
	environment         TEXT    NOT NULL,
	environment_version INTEGER NOT NULL,
	service             TEXT    NOT NULL,
	variables           TEXT    CHECK (variables IS NULL OR json_valid(variables)),
	started_by          TEXT    NOT NULL,
	created_at          TEXT    NOT NULL,
	updated_at          TEXT    NOT NULL,
	status              TEXT    NOT NULL,
	reason              TEXT    NOT NULL,
	state               TEXT    CHECK (state IS NULL OR json_valid(state)),
	version             INTEGER NOT NULL,
	journal_seq         INTEGER NOT NULL DEFAULT 0,
	event_seq           INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX executions_active_service ON executions (environment, service)
	WHERE status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted');
CREATE INDEX executions_created ON executions (created_at, id);
CREATE TABLE journal (
	execution_id TEXT    NOT NULL REFERENCES executions (id),
	seq          INTEGER NOT NULL,
	key          TEXT    NOT NULL,
	kind         TEXT    NOT NULL,
	data         TEXT    CHECK (data IS NULL OR json_valid(data)),
	at           TEXT    NOT NULL,
	PRIMARY KEY (execution_id, seq)
) WITHOUT ROWID;
CREATE TABLE events (
	execution_id TEXT    NOT NULL REFERENCES executions (id),
	seq          INTEGER NOT NULL,
	at           TEXT    NOT NULL,
	type         TEXT    NOT NULL,
	step         TEXT    NOT NULL,
	level        TEXT    NOT NULL,
	message      TEXT    NOT NULL,
	data         TEXT    CHECK (data IS NULL OR json_valid(data)),
	PRIMARY KEY (execution_id, seq)
) WITHOUT ROWID;
CREATE TABLE services (
	environment  TEXT    NOT NULL,
	service      TEXT    NOT NULL,
	live_slot    TEXT    NOT NULL,
	artifact     TEXT    NOT NULL,
	instances    INTEGER NOT NULL,
	execution_id TEXT    NOT NULL,
	updated_at   TEXT    NOT NULL,
	PRIMARY KEY (environment, service)
);
`},
	{2, "execution leases", `
ALTER TABLE executions ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN lease_until TEXT NOT NULL DEFAULT '';
CREATE INDEX executions_lease ON executions (lease_until)
	WHERE status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted');
`},
	{3, "auth and audit", authSchema},
	{4, "audit counts and retention", auditRetentionSchema},
	{5, "durable human requests", `
CREATE TABLE requests (
	execution_id TEXT    NOT NULL REFERENCES executions (id),
	seq          INTEGER NOT NULL,
	kind         TEXT    NOT NULL,
	by_name      TEXT    NOT NULL,
	reason       TEXT    NOT NULL,
	data         TEXT    CHECK (data IS NULL OR json_valid(data)),
	at           TEXT    NOT NULL,
	answered     INTEGER NOT NULL DEFAULT 0,
	refusal      TEXT    NOT NULL DEFAULT '',
	outcome      TEXT    NOT NULL DEFAULT '',
	answered_at  TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (execution_id, seq)
) WITHOUT ROWID;
CREATE INDEX requests_unanswered ON requests (execution_id) WHERE answered = 0;
`},
	{6, "trigger deliveries", deliveriesSchema},
	{7, "pipeline runs", pipelinesSchema},
}

// SchemaVersion is the newest schema version this binary knows.
var SchemaVersion = migrations[len(migrations)-1].version

// migrate brings the database to SchemaVersion in one immediate transaction, so that
// several processes opening the same file apply each migration once.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at TEXT    NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > SchemaVersion {
		return fmt.Errorf("database schema version %d is newer than this binary supports (%d); run a newer sluice", current, SchemaVersion)
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, sqlstore.EncodeTime(time.Now())); err != nil {
			return fmt.Errorf("record migration %d: %w", m.version, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}
