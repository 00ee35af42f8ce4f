package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/store/sqlstore"
)

// migration is one numbered, forward-only schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are applied in order; a released migration is never edited or removed, and
// none drops data. Times are text in fixed-width UTC with nanoseconds (timestamptz keeps
// only microseconds), so text order is time order and values round-trip exactly.
var migrations = []migration{
	{1, "initial schema", `
CREATE TABLE definitions (
	kind       text    NOT NULL,
	name       text    NOT NULL,
	version    bigint  NOT NULL,
	source     text    NOT NULL,
	deleted    boolean NOT NULL DEFAULT false,
	created_at text    NOT NULL,
	created_by text    NOT NULL,
	PRIMARY KEY (kind, name, version)
);
CREATE TABLE executions (
	id                  text   NOT NULL PRIMARY KEY,
	workflow            text   NOT NULL,
	workflow_version    bigint NOT NULL,
	environment         text   NOT NULL,
	environment_version bigint NOT NULL,
	service             text   NOT NULL,
	variables           jsonb,
	started_by          text   NOT NULL,
	created_at          text   NOT NULL,
	updated_at          text   NOT NULL,
	status              text   NOT NULL,
	reason              text   NOT NULL,
	state               jsonb,
	version             bigint NOT NULL,
	journal_seq         bigint NOT NULL DEFAULT 0,
	event_seq           bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX executions_active_service ON executions (environment, service)
	WHERE status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted');
CREATE INDEX executions_created ON executions (created_at, id);
CREATE TABLE journal (
	execution_id text   NOT NULL REFERENCES executions (id),
	seq          bigint NOT NULL,
	key          text   NOT NULL,
	kind         text   NOT NULL,
	data         jsonb,
	at           text   NOT NULL,
	PRIMARY KEY (execution_id, seq)
);
CREATE TABLE events (
	execution_id text   NOT NULL REFERENCES executions (id),
	seq          bigint NOT NULL,
	at           text   NOT NULL,
	type         text   NOT NULL,
	step         text   NOT NULL,
	level        text   NOT NULL,
	message      text   NOT NULL,
	data         jsonb,
	PRIMARY KEY (execution_id, seq)
);
CREATE TABLE services (
	environment  text   NOT NULL,
	service      text   NOT NULL,
	live_slot    text   NOT NULL,
	artifact     text   NOT NULL,
	instances    bigint NOT NULL,
	execution_id text   NOT NULL,
	updated_at   text   NOT NULL,
	PRIMARY KEY (environment, service)
);
`},
	{2, "execution leases", `
ALTER TABLE executions ADD COLUMN owner text NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN lease_until text NOT NULL DEFAULT '';
CREATE INDEX executions_lease ON executions (lease_until)
	WHERE status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted');
`},
	{3, "auth and audit", authSchema},
	{4, "audit counts and retention", auditRetentionSchema},
	{5, "durable human requests", `
CREATE TABLE requests (
	execution_id text    NOT NULL REFERENCES executions (id),
	seq          bigint  NOT NULL,
	kind         text    NOT NULL,
	by_name      text    NOT NULL,
	reason       text    NOT NULL,
	data         jsonb,
	at           text    NOT NULL,
	answered     boolean NOT NULL DEFAULT false,
	refusal      text    NOT NULL DEFAULT '',
	outcome      text    NOT NULL DEFAULT '',
	answered_at  text    NOT NULL DEFAULT '',
	PRIMARY KEY (execution_id, seq)
);
CREATE INDEX requests_unanswered ON requests (execution_id) WHERE NOT answered;
`},
	{6, "trigger deliveries", deliveriesSchema},
	{7, "pipeline runs", pipelinesSchema},
}

// SchemaVersion is the newest schema version this binary knows.
var SchemaVersion = migrations[len(migrations)-1].version

// migrate brings the schema to SchemaVersion. A transaction-scoped advisory lock makes
// servers that start at the same moment apply each migration exactly once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('sluice/migrate', 0))`); err != nil {
			return fmt.Errorf("lock: %w", err)
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
		if current > SchemaVersion {
			return fmt.Errorf("database schema version %d is newer than this binary supports (%d); run a newer sluice", current, SchemaVersion)
		}
		for _, m := range migrations {
			if m.version <= current {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, sqlstore.EncodeTime(time.Now())); err != nil {
				return fmt.Errorf("record migration %d: %w", m.version, err)
			}
		}
		return nil
	})
}
