package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sluicehq/sluice/internal/store/sqlstore"
)

// migrations are applied in order; a released migration is never edited or removed, and
// none drops data.
var migrations = []sqlstore.Migration{
	{Version: 1, Name: "initial schema", SQL: `
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
	{Version: 2, Name: "execution leases", SQL: `
ALTER TABLE executions ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN lease_until TEXT NOT NULL DEFAULT '';
CREATE INDEX executions_lease ON executions (lease_until)
	WHERE status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted');
`},
	{Version: 3, Name: "auth and audit", SQL: authSchema},
	{Version: 4, Name: "audit counts and retention", SQL: auditRetentionSchema},
	{Version: 5, Name: "durable human requests", SQL: `
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
	{Version: 6, Name: "trigger deliveries", SQL: deliveriesSchema},
	{Version: 7, Name: "pipeline runs", SQL: pipelinesSchema},
}

// SchemaVersion is the newest schema version this binary knows.
var SchemaVersion = migrations[len(migrations)-1].Version

// migrate brings the database to SchemaVersion in one immediate transaction, so that
// several processes opening the same file apply each migration once.
func migrate(ctx context.Context, sqlDB *sql.DB) error {
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := dialect.Migrate(ctx, db{tx}, migrations); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}
