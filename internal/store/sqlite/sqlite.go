package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sluicehq/sluice/internal/audit"
	"github.com/sluicehq/sluice/internal/auth"
	"github.com/sluicehq/sluice/internal/store"
	"github.com/sluicehq/sluice/internal/store/sqlstore"

	sqlite3 "modernc.org/sqlite/lib"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

var (
	_ store.Store        = (*Store)(nil)
	_ store.PipelineRuns = (*Store)(nil)
	_ auth.Store         = (*Store)(nil)
	_ audit.Store        = (*Store)(nil)
)

// ErrClosed is returned by writes on a closed Store.
var ErrClosed = errors.New("sqlite: store closed")

// Store is a store.Store backed by one SQLite database file.
type Store struct {
	w    *sql.DB // the single writer connection, used only by the writer goroutine
	r    *sql.DB // WAL reader connections
	cp   *sql.DB // the checkpointer's connection
	opts options

	queue  chan *writeOp
	stop   chan struct{}
	done   chan struct{}
	cpDone chan struct{}

	gate sqlstore.Gate // admits writes until Close

	stmts writeStmts

	// Core holds the queries both stores share; its reads run on r, its writes
	// through the group-commit writer.
	sqlstore.Core
}

type options struct {
	synchronous string
	busyTimeout time.Duration
	maxBatch    int
	readers     int
	checkpoint  int
}

// Option changes how Open configures the database.
type Option func(*options)

// WithSynchronous sets PRAGMA synchronous (FULL by default; NORMAL trades the durability
// of the last transactions after a power loss for speed).
func WithSynchronous(mode string) Option { return func(o *options) { o.synchronous = mode } }

// WithBusyTimeout sets how long a connection waits for a lock held by another process.
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithMaxBatch caps how many queued writes one group-commit transaction takes.
func WithMaxBatch(n int) Option { return func(o *options) { o.maxBatch = n } }

// WithAutoCheckpoint sets the WAL size in pages past which the background
// checkpointer restarts the WAL (it copies the WAL back into the database file every
// 200ms in any case, outside the writer's commits).
func WithAutoCheckpoint(pages int) Option { return func(o *options) { o.checkpoint = pages } }

// WithReaders sets the number of WAL reader connections.
func WithReaders(n int) Option { return func(o *options) { o.readers = n } }

// Open opens (creating if needed) the database at path, applies pending schema
// migrations and starts the group-commit writer.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{synchronous: "FULL", busyTimeout: 10 * time.Second, maxBatch: 1024, readers: 4, checkpoint: 1000}
	for _, opt := range opts {
		opt(&o)
	}
	w, err := openDB(path, o, false)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r, err := openDB(path, o, true)
	if err != nil {
		w.Close()
		return nil, err
	}
	cp, err := openDB(path, o, false)
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	s := &Store{w: w, r: r, cp: cp, opts: o, queue: make(chan *writeOp, 4*o.maxBatch),
		stop: make(chan struct{}), done: make(chan struct{}), cpDone: make(chan struct{})}
	s.Core = sqlstore.Core{Dialect: dialect, Read: db{r}, Write: s.writeTx}
	if err := s.stmts.prepare(ctx, w); err != nil {
		w.Close()
		r.Close()
		cp.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	go s.writer()
	go s.checkpointer(cp)
	return s, nil
}

// uriPath escapes the characters that end or change the path of a SQLite file: URI,
// so a directory named "a#b" or "a?b" opens the file the caller named.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// openDB opens the writer (one connection, immediate transactions) or the reader pool.
func openDB(path string, o options, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", fmt.Sprintf("synchronous(%s)", o.synchronous))
		q.Add("_pragma", "wal_autocheckpoint(0)") // the checkpointer does it, off the writer
		// Each commit of a batch runs under a savepoint; keeping the statement and
		// savepoint sub-journals in memory saves a temp-file write per page.
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", "file:"+uriPath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := 1
	if readOnly {
		n = o.readers
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// Close waits for pending writes to finish, stops the writer and closes the database.
func (s *Store) Close() error {
	if !s.gate.Close() {
		return nil
	}
	close(s.stop)
	<-s.done
	<-s.cpDone
	s.stmts.close()
	return errors.Join(s.r.Close(), s.cp.Close(), s.w.Close())
}

// dialect is SQLite's: ? placeholders, and no row locks, since one writer goroutine
// serialises every write.
var dialect = sqlstore.Dialect{
	Name:   "sqlite",
	NoRows: func(err error) bool { return errors.Is(err, sql.ErrNoRows) },
	Unique: unique,
}

// unique reports whether err is a unique or primary-key violation.
func unique(err error) bool {
	var se interface{ Code() int }
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// queryer is what database/sql's pool and transaction share.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// db adapts a database/sql pool or transaction to sqlstore.DB.
type db struct{ q queryer }

func (d db) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := d.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (d db) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.q.QueryRowContext(ctx, query, args...)
}

func (d db) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// sqlRows is *sql.Rows with the Close sqlstore.Rows has.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// writeTx runs fn through the group-commit writer, under its own savepoint.
func (s *Store) writeTx(ctx context.Context, fn func(ctx context.Context, tx sqlstore.DB) error) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		return nil, fn(ctx, db{tx})
	})
}
