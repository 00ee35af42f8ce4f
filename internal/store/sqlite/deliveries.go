package sqlite

// deliveriesSchema is migration 6: the webhook deliveries triggers accepted.
const deliveriesSchema = `
CREATE TABLE deliveries (
	trigger_name TEXT NOT NULL,
	id           TEXT NOT NULL,
	at           TEXT NOT NULL,
	PRIMARY KEY (trigger_name, id)
) WITHOUT ROWID;
CREATE INDEX deliveries_at ON deliveries (at);
`
