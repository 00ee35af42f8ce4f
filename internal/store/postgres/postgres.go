package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlstore"
)

var (
	_ store.Store        = (*Store)(nil)
	_ store.PipelineRuns = (*Store)(nil)
	_ auth.Store         = (*Store)(nil)
	_ audit.Store        = (*Store)(nil)
)

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("postgres: store closed")

// Store is a store.Store backed by a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool

	gate sqlstore.Gate // admits calls until Close

	// Core holds the queries both stores share; its reads run on the pool, each
	// write in a transaction of its own.
	sqlstore.Core
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
	s := &Store{pool: pool}
	s.Core = sqlstore.Core{Dialect: dialect, Read: db{pool}, Write: s.writeTx,
		Requested: notifyRequest, Answered: notifyAnswer}
	return s, nil
}

// Close waits for calls in flight to finish and closes the pool.
func (s *Store) Close() error {
	if !s.gate.Close() {
		return nil
	}
	s.pool.Close()
	return nil
}

// begin registers a call in flight; the returned func ends it.
func (s *Store) begin(ctx context.Context) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.gate.Enter() {
		return nil, ErrClosed
	}
	return s.gate.Leave, nil
}

// dialect is PostgreSQL's: numbered placeholders, row locks, and advisory locks for
// the writers of one key.
var dialect = sqlstore.Dialect{
	Name:       "postgres",
	Numbered:   true,
	NoRows:     func(err error) bool { return errors.Is(err, pgx.ErrNoRows) },
	Unique:     func(err error) bool { return uniqueViolation(err) != "" },
	Lock:       advisoryLock,
	ForUpdate:  " FOR UPDATE",
	SkipLocked: " FOR UPDATE SKIP LOCKED",
}

// advisoryLock holds the other writers of key back until tx ends.
func advisoryLock(ctx context.Context, tx sqlstore.DB, key string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, key)
	return err
}

// queryer is what pgx's pool and transaction share.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// db adapts a pgx pool or transaction to sqlstore.DB.
type db struct{ q queryer }

func (d db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return d.q.Query(ctx, query, args...)
}

func (d db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.q.QueryRow(ctx, query, args...)
}

func (d db) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.q.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

// writeTx runs fn in one transaction, counted as a call in flight.
func (s *Store) writeTx(ctx context.Context, fn func(ctx context.Context, tx sqlstore.DB) error) error {
	done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(ctx, db{tx}) })
}

// notifyRequest announces a new request to the owner of its execution.
func notifyRequest(ctx context.Context, tx sqlstore.DB, owner string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify(?, ?)`, RequestChannel, owner)
	return err
}

// notifyAnswer announces a request's first answer as "<execution>/<seq>".
func notifyAnswer(ctx context.Context, tx sqlstore.DB, a store.RequestAnswer) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify(?, ?)`, AnswerChannel, a.ExecutionID+"/"+strconv.FormatInt(a.Seq, 10))
	return err
}

// uniqueViolation returns the constraint name of a unique violation, or "".
func uniqueViolation(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return pe.ConstraintName
	}
	return ""
}
