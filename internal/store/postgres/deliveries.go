package postgres

// deliveriesSchema is migration 6: the webhook deliveries triggers accepted.
const deliveriesSchema = `
CREATE TABLE deliveries (
	trigger_name text NOT NULL,
	id           text NOT NULL,
	at           text NOT NULL,
	PRIMARY KEY (trigger_name, id)
);
CREATE INDEX deliveries_at ON deliveries (at);
`
