package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/internal/store"
)

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

// ClaimDelivery records d unless the same trigger already received its id, in which
// case it returns the first delivery and store.ErrDuplicate; the primary key decides
// between servers claiming at once. Deliveries older than store.DeliveryRetention
// before d.At are dropped in the same transaction.
func (s *Store) ClaimDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error) {
	done, err := s.begin(ctx)
	if err != nil {
		return d, fmt.Errorf("postgres: claim delivery %s of %s: %w", d.ID, d.Trigger, err)
	}
	defer done()
	first := d
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM deliveries WHERE at < $1`,
			encodeTime(d.At.Add(-store.DeliveryRetention))); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO deliveries (trigger_name, id, at) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, d.Trigger, d.ID, encodeTime(d.At))
		if err != nil || tag.RowsAffected() == 1 {
			return err
		}
		var at string
		if err := tx.QueryRow(ctx, `SELECT at FROM deliveries WHERE trigger_name = $1 AND id = $2`,
			d.Trigger, d.ID).Scan(&at); err != nil {
			return err
		}
		if first.At, err = decodeTime(at); err != nil {
			return err
		}
		return store.ErrDuplicate
	})
	if err != nil {
		return first, fmt.Errorf("postgres: claim delivery %s of %s: %w", d.ID, d.Trigger, err)
	}
	return first, nil
}
