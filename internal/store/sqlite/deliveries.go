package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sluicehq/sluice/internal/store"
)

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

// ClaimDelivery records d unless the same trigger already received its id, in which
// case it returns the first delivery and store.ErrDuplicate. Deliveries older than
// store.DeliveryRetention before d.At are dropped in the same write.
func (s *Store) ClaimDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error) {
	first := d
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE at < ?`,
			encodeTime(d.At.Add(-store.DeliveryRetention))); err != nil {
			return nil, err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (trigger_name, id, at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, d.Trigger, d.ID, encodeTime(d.At))
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return nil, err
		}
		var at string
		if err := tx.QueryRowContext(ctx, `SELECT at FROM deliveries WHERE trigger_name = ? AND id = ?`,
			d.Trigger, d.ID).Scan(&at); err != nil {
			return nil, err
		}
		// set here: a write that fails runs no after-func; the writer's answer on the
		// op's channel orders this assignment before the caller reads it
		if first.At, err = decodeTime(at); err != nil {
			return nil, err
		}
		return nil, store.ErrDuplicate
	})
	if err != nil {
		return first, fmt.Errorf("sqlite: claim delivery %s of %s: %w", d.ID, d.Trigger, err)
	}
	return first, nil
}
