package postgres

import (
	"context"
	"fmt"
)

// Announce wakes the server named owner as AddRequest does, with a NOTIFY on
// RequestChannel: for a request stored elsewhere than in the requests table (a
// decision or an abort written into a pipeline run), so its owner's ListenRequests
// calls Wake at once instead of the owner seeing it at its next poll.
func (s *Store) Announce(ctx context.Context, owner string) error {
	done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: announce to %s: %w", owner, err)
	}
	defer done()
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, RequestChannel, owner); err != nil {
		return fmt.Errorf("postgres: announce to %s: %w", owner, err)
	}
	return nil
}
