package sqlite

// pipelinesSchema is migration 7: pipeline runs, leased like executions.
const pipelinesSchema = `
CREATE TABLE pipeline_runs (
	id               TEXT    NOT NULL PRIMARY KEY,
	pipeline         TEXT    NOT NULL,
	pipeline_version INTEGER NOT NULL,
	variables        TEXT    CHECK (variables IS NULL OR json_valid(variables)),
	started_by       TEXT    NOT NULL,
	created_at       TEXT    NOT NULL,
	updated_at       TEXT    NOT NULL,
	status           TEXT    NOT NULL,
	reason           TEXT    NOT NULL,
	state            TEXT    CHECK (state IS NULL OR json_valid(state)),
	version          INTEGER NOT NULL,
	owner            TEXT    NOT NULL DEFAULT '',
	lease_until      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX pipeline_runs_created ON pipeline_runs (created_at, id);
CREATE INDEX pipeline_runs_lease ON pipeline_runs (lease_until)
	WHERE status NOT IN ('succeeded', 'failed', 'rolled_back', 'aborted');
`
