package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/store/sqlstore"
)

// migrations are applied in order; a released migration is never edited or removed, and
// none drops data. Times are text in fixed-width UTC with nanoseconds (timestamptz keeps
// only microseconds), so text order is time order and values round-trip exactly.
var migrations = []sqlstore.Migration{
	{Version: 1, Name: "initial schema", SQL: `
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
	{Version: 2, Name: "execution leases", SQL: `
ALTER TABLE executions ADD COLUMN owner text NOT NULL DEFAULT '';
ALTER TABLE executions ADD COLUMN lease_until text NOT NULL DEFAULT '';
CREATE INDEX executions_lease ON executions (lease_until)
	WHERE status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted');
`},
	{Version: 3, Name: "auth and audit", SQL: authSchema},
	{Version: 4, Name: "audit counts and retention", SQL: auditRetentionSchema},
	{Version: 5, Name: "durable human requests", SQL: `
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
	{Version: 6, Name: "trigger deliveries", SQL: deliveriesSchema},
	{Version: 7, Name: "pipeline runs", SQL: pipelinesSchema},
}

// SchemaVersion is the newest schema version this binary knows.
var SchemaVersion = migrations[len(migrations)-1].Version

// migrate brings the schema to SchemaVersion in one transaction; the dialect's
// advisory lock makes servers that start at the same moment apply each migration once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return dialect.Migrate(ctx, db{tx}, migrations) })
}
