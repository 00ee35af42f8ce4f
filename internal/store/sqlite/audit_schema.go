package sqlite

// auditRetentionSchema is migration 4: an entry counts requests (rejected ones are
// counted per source and minute), and the one delete the triggers allow is pruning
// entries that an export recorded in audit_exports, itself append-only.
const auditRetentionSchema = `
ALTER TABLE audit_log ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
CREATE TABLE audit_exports (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	through_seq INTEGER NOT NULL,
	at          TEXT    NOT NULL,
	dest        TEXT    NOT NULL
);
CREATE TRIGGER audit_exports_no_update BEFORE UPDATE ON audit_exports
	BEGIN SELECT RAISE(ABORT, 'audit exports are append-only'); END;
CREATE TRIGGER audit_exports_no_delete BEFORE DELETE ON audit_exports
	BEGIN SELECT RAISE(ABORT, 'audit exports are append-only'); END;
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
	WHEN OLD.seq > (SELECT COALESCE(MAX(through_seq), 0) FROM audit_exports)
	BEGIN SELECT RAISE(ABORT, 'audit log is append-only: only exported entries may be pruned'); END;
`
