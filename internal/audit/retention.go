package audit

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// MinRetention is the shortest retention a server accepts: an entry is never pruned
// while the request that wrote it could still be running.
const MinRetention = time.Hour

// Retention exports the entries older than Keep to a JSON-lines file, then prunes
// them from the store.
type Retention struct {
	Store Store
	Keep  time.Duration
	// Dest is the file the entries are appended to, one JSON object a line, before
	// they are removed; it is created with mode 0600.
	Dest string
	// Every is how often Run prunes; Keep/10 capped at an hour when zero.
	Every time.Duration
	Now   func() time.Time // time.Now when nil
	Log   *slog.Logger     // discarded when nil
}

// Run prunes now and then every r.Every until ctx ends.
func (r *Retention) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = min(r.Keep/10, time.Hour)
	}
	t := time.NewTicker(max(every, time.Second))
	defer t.Stop()
	for {
		n, err := r.Prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.logger().Error("audit: retention", "err", err)
		case n > 0:
			r.logger().Info("audit: pruned entries after exporting them", "count", n, "export", r.Dest)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Prune appends every entry older than Keep to Dest and removes it from the store, a
// page at a time: each page is on disk (fsync) before the store removes it. It returns
// how many entries it removed. A crash between the two exports a page twice; the seq
// of each line tells the copies apart.
func (r *Retention) Prune(ctx context.Context) (int64, error) {
	if r.Keep <= 0 {
		return 0, nil
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	cutoff := now().Add(-r.Keep)
	var total int64
	for {
		page, more, err := r.expired(ctx, cutoff)
		if err != nil || len(page) == 0 {
			return total, err
		}
		if err := r.export(page); err != nil {
			return total, err
		}
		n, err := r.Store.PruneAudit(ctx, page[len(page)-1].Seq, r.Dest)
		total += n
		if err != nil {
			return total, fmt.Errorf("audit: prune: %w", err)
		}
		if n == 0 {
			return total, fmt.Errorf("audit: prune through seq %d removed nothing", page[len(page)-1].Seq)
		}
		if !more {
			return total, nil
		}
	}
}

// expired returns the oldest page of entries from before cutoff, and whether more
// may follow; it stops at the first entry that is not expired.
func (r *Retention) expired(ctx context.Context, cutoff time.Time) ([]Entry, bool, error) {
	page, err := r.Store.ListAudit(ctx, Filter{Limit: MaxPage})
	if err != nil {
		return nil, false, fmt.Errorf("audit: list expired entries: %w", err)
	}
	for i, e := range page {
		if !e.At.Before(cutoff) {
			return page[:i], false, nil
		}
	}
	return page, len(page) == MaxPage, nil
}

// export appends entries to Dest and syncs it.
func (r *Retention) export(entries []Entry) error {
	f, err := os.OpenFile(r.Dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: export: %w", err)
	}
	w := bufio.NewWriter(f)
	err = WriteJSONL(w, entries)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit: export to %s: %w", r.Dest, err)
	}
	return nil
}

func (r *Retention) logger() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}
