package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointEvery is how often the background checkpointer copies the WAL back into
// the database file.
const checkpointEvery = 200 * time.Millisecond

// checkpointer copies the WAL into the database file from a connection of its own, so
// the group-commit writer never pays for it inside a commit. It runs PASSIVE
// checkpoints, which never wait for readers or the writer; when the WAL has grown past
// the configured size it asks for a RESTART one so the file does not grow without end.
func (s *Store) checkpointer(db *sql.DB) {
	defer close(s.cpDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		var busy, log, done int
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done)
		if err == nil && log > s.opts.checkpoint {
			db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(RESTART)").Scan(&busy, &log, &done) //nolint:errcheck // best effort; the next tick tries again
		}
		cancel()
	}
}
