package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/store"
)

// DB runs one statement: on a store's read pool or inside a write transaction. Each
// store adapts its driver to it; a query's placeholders arrive already numbered for
// the store's dialect.
type DB interface {
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Exec runs a statement and returns the number of rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Rows is a result set being read; Close may be called more than once.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is the one row QueryRow returns; its Scan fails with the driver's "no rows"
// error when there is none.
type Row interface {
	Scan(dest ...any) error
}

// Dialect is what differs between the SQL of two databases.
type Dialect struct {
	// Name names the store at the start of every error message: "sqlite", "postgres".
	Name string
	// Numbered is true when placeholders are $1, $2, … rather than ?.
	Numbered bool
	// NoRows reports whether err is the driver's answer to a QueryRow that found nothing.
	NoRows func(err error) bool
	// Unique reports whether err is a unique or primary-key violation.
	Unique func(err error) bool
	// Lock, when set, holds the writers of key back until tx ends. A store whose
	// writes are already serialised (SQLite's one writer) leaves it nil.
	Lock func(ctx context.Context, tx DB, key string) error
	// ForUpdate ends a SELECT whose row the transaction goes on to change, and
	// SkipLocked the sub-select of a claim, which skips rows another transaction is
	// claiming rather than waiting for them; both are "" where writes are serialised.
	ForUpdate, SkipLocked string
}

// Bind numbers the ? placeholders of query for d. Queries hold no ? inside literals.
func (d *Dialect) Bind(query string) string {
	if !d.Numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// errorf formats an error message that starts with the store's name.
func (d *Dialect) errorf(format string, args ...any) error {
	return fmt.Errorf(d.Name+": "+format, args...)
}

// WriteFunc runs fn in one write transaction and returns once it is durable, or
// returns fn's error with nothing of fn written. fn may run only once.
type WriteFunc func(ctx context.Context, fn func(ctx context.Context, tx DB) error) error

// Core implements the parts of store.Store that are the same SQL on every database.
type Core struct {
	Dialect Dialect
	// Read is the pool reads run on.
	Read DB
	// Write runs a write transaction.
	Write WriteFunc
	// Requested and Answered, when set, run inside the transaction that added a request
	// to an execution driven by owner, or gave a request its first answer (PostgreSQL
	// announces both with NOTIFY).
	Requested func(ctx context.Context, tx DB, owner string) error
	Answered  func(ctx context.Context, tx DB, a store.RequestAnswer) error
}

// reader returns the read pool speaking the dialect.
func (c *Core) reader() DB { return bound{c.Read, &c.Dialect} }

// write runs fn in a write transaction whose statements speak the dialect.
func (c *Core) write(ctx context.Context, fn func(ctx context.Context, tx DB) error) error {
	return c.Write(ctx, func(ctx context.Context, tx DB) error { return fn(ctx, bound{tx, &c.Dialect}) })
}

// bound numbers a DB's placeholders for its dialect and turns "no rows" into
// store.ErrNotFound.
type bound struct {
	db DB
	d  *Dialect
}

func (b bound) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return b.db.Query(ctx, b.d.Bind(query), args...)
}

func (b bound) QueryRow(ctx context.Context, query string, args ...any) Row {
	return notFoundRow{b.db.QueryRow(ctx, b.d.Bind(query), args...), b.d}
}

func (b bound) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return b.db.Exec(ctx, b.d.Bind(query), args...)
}

type notFoundRow struct {
	row Row
	d   *Dialect
}

func (r notFoundRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if err != nil && r.d.NoRows(err) {
		return store.ErrNotFound
	}
	return err
}

// collect reads every row of rows with scan and closes rows.
func collect[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// query runs a query on db and collects its rows with scan.
func query[T any](ctx context.Context, db DB, scan func(Row) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, scan)
}

// placeholders returns n comma-separated ? placeholders.
func placeholders(n int) string {
	return "?" + strings.Repeat(", ?", n-1)
}
