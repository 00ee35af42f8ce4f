package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/store"
)

var _ store.Store = (*Store)(nil)

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("postgres: store closed")

// Store is a store.Store backed by a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool

	mu      sync.Mutex
	closed  bool
	pending sync.WaitGroup
}

// Open connects to the database at dsn (a postgres:// URL or key=value string; extra
// parameters such as search_path become session settings) and applies pending
// migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close waits for calls in flight to finish and closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.pending.Wait()
	s.pool.Close()
	return nil
}

// begin registers a call in flight; the returned func ends it.
func (s *Store) begin(ctx context.Context) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.pending.Add(1)
	return s.pending.Done, nil
}

// timeFormat is fixed-width UTC with nanoseconds, so text order is time order.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func encodeTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func decodeTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("decode time %q: %w", s, err)
	}
	return t, nil
}

// encodeJSON validates raw JSON; empty means NULL.
func encodeJSON(field string, raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%s: invalid JSON", field)
	}
	return string(raw), nil
}

func decodeJSON(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

// uniqueViolation returns the constraint name of a unique violation, or "".
func uniqueViolation(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName
	}
	return ""
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}
