package sqlstore

import (
	"context"

	"github.com/sluicehq/sluice/internal/store"
)

// ClaimDelivery records d unless the same trigger already received its id, in which
// case it returns the first delivery and store.ErrDuplicate; the primary key decides
// between servers claiming at once. Deliveries older than store.DeliveryRetention
// before d.At are dropped in the same write.
func (c *Core) ClaimDelivery(ctx context.Context, d store.Delivery) (store.Delivery, error) {
	first := d
	err := c.write(ctx, func(ctx context.Context, tx DB) error {
		if _, err := tx.Exec(ctx, `DELETE FROM deliveries WHERE at < ?`,
			EncodeTime(d.At.Add(-store.DeliveryRetention))); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `INSERT INTO deliveries (trigger_name, id, at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, d.Trigger, d.ID, EncodeTime(d.At))
		if err != nil || n == 1 {
			return err
		}
		var at string
		if err := tx.QueryRow(ctx, `SELECT at FROM deliveries WHERE trigger_name = ? AND id = ?`,
			d.Trigger, d.ID).Scan(&at); err != nil {
			return err
		}
		if first.At, err = DecodeTime(at); err != nil {
			return err
		}
		return store.ErrDuplicate
	})
	if err != nil {
		return first, c.Dialect.errorf("claim delivery %s of %s: %w", d.ID, d.Trigger, err)
	}
	return first, nil
}
