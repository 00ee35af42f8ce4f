package postgres

// authSchema is migration 3: API tokens and sessions (hashes only), role grants, and
// the append-only audit log, whose rows a trigger refuses to change or delete.
const authSchema = `
CREATE TABLE auth_tokens (
	id          text NOT NULL PRIMARY KEY,
	hash        text NOT NULL,
	kind        text NOT NULL,
	parent      text NOT NULL,
	user_name   text NOT NULL,
	groups      text NOT NULL,
	description text NOT NULL,
	created_at  text NOT NULL,
	created_by  text NOT NULL,
	expires_at  text NOT NULL,
	revoked_at  text NOT NULL,
	revoked_by  text NOT NULL
);
CREATE INDEX auth_tokens_parent ON auth_tokens (parent);
CREATE TABLE auth_grants (
	subject     text NOT NULL,
	role        text NOT NULL,
	environment text NOT NULL,
	created_at  text NOT NULL,
	created_by  text NOT NULL,
	PRIMARY KEY (subject, role, environment)
);
CREATE TABLE audit_log (
	seq         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at          text    NOT NULL,
	actor       text    NOT NULL,
	method      text    NOT NULL,
	token_id    text    NOT NULL,
	remote      text    NOT NULL,
	action      text    NOT NULL,
	target      text    NOT NULL,
	environment text    NOT NULL,
	outcome     text    NOT NULL,
	status      integer NOT NULL,
	summary     text    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
`
