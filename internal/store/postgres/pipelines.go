package postgres

// pipelinesSchema is migration 7: pipeline runs, leased like executions.
const pipelinesSchema = `
CREATE TABLE pipeline_runs (
	id               text   NOT NULL PRIMARY KEY,
	pipeline         text   NOT NULL,
	pipeline_version bigint NOT NULL,
	variables        jsonb,
	started_by       text   NOT NULL,
	created_at       text   NOT NULL,
	updated_at       text   NOT NULL,
	status           text   NOT NULL,
	reason           text   NOT NULL,
	state            jsonb,
	version          bigint NOT NULL,
	owner            text   NOT NULL DEFAULT '',
	lease_until      text   NOT NULL DEFAULT ''
);
CREATE INDEX pipeline_runs_created ON pipeline_runs (created_at, id);
CREATE INDEX pipeline_runs_lease ON pipeline_runs (lease_until)
	WHERE status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted');
`
