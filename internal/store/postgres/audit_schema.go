package postgres

// auditRetentionSchema is migration 4: an entry counts requests (rejected ones are
// counted per source and minute), and the one delete the triggers allow is pruning
// entries that an export recorded in audit_exports, itself append-only.
const auditRetentionSchema = `
ALTER TABLE audit_log ADD COLUMN count bigint NOT NULL DEFAULT 1;
CREATE TABLE audit_exports (
	seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	through_seq bigint NOT NULL,
	at          text   NOT NULL,
	dest        text   NOT NULL
);
CREATE FUNCTION audit_exports_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit exports are append-only';
END $$;
CREATE TRIGGER audit_exports_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_exports
	FOR EACH STATEMENT EXECUTE FUNCTION audit_exports_append_only();
DROP TRIGGER audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
CREATE FUNCTION audit_log_prune_exported() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.seq > (SELECT COALESCE(MAX(through_seq), 0) FROM audit_exports) THEN
		RAISE EXCEPTION 'audit log is append-only: only exported entries may be pruned';
	END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER audit_log_prune_exported BEFORE DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_prune_exported();
`
