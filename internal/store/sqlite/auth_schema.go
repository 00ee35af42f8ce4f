package sqlite

// authSchema is migration 3: API tokens and sessions (hashes only), role grants, and
// the append-only audit log, whose rows triggers refuse to change or delete.
const authSchema = `
CREATE TABLE auth_tokens (
	id          TEXT NOT NULL PRIMARY KEY,
	hash        TEXT NOT NULL,
	kind        TEXT NOT NULL,
	parent      TEXT NOT NULL,
	user_name   TEXT NOT NULL,
	groups      TEXT NOT NULL,
	description TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	expires_at  TEXT NOT NULL,
	revoked_at  TEXT NOT NULL,
	revoked_by  TEXT NOT NULL
);
CREATE INDEX auth_tokens_parent ON auth_tokens (parent);
CREATE TABLE auth_grants (
	subject     TEXT NOT NULL,
	role        TEXT NOT NULL,
	environment TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	PRIMARY KEY (subject, role, environment)
);
CREATE TABLE audit_log (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	at          TEXT    NOT NULL,
	actor       TEXT    NOT NULL,
	method      TEXT    NOT NULL,
	token_id    TEXT    NOT NULL,
	remote      TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	target      TEXT    NOT NULL,
	environment TEXT    NOT NULL,
	outcome     TEXT    NOT NULL,
	status      INTEGER NOT NULL,
	summary     TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
	BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
	BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`
