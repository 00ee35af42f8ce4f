package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/internal/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

var _ store.Store = (*Store)(nil)

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

	mu      sync.Mutex
	closed  bool
	pending sync.WaitGroup

	stmts writeStmts
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
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.pending.Wait()
	close(s.stop)
	<-s.done
	<-s.cpDone
	s.stmts.close()
	return errors.Join(s.r.Close(), s.cp.Close(), s.w.Close())
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

func decodeJSON(v sql.NullString) json.RawMessage {
	if !v.Valid {
		return nil
	}
	return json.RawMessage(v.String)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
