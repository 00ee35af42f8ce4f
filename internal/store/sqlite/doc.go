// Package sqlite implements store.Store on an embedded SQLite database (the pure-Go
// modernc.org/sqlite driver) in WAL mode with synchronous=FULL. All writes go through
// one writer goroutine that group-commits every write queued at that moment in a single
// fsynced transaction, each write inside its own SAVEPOINT so that one failing write
// fails alone. Reads use a separate pool of WAL reader connections.
package sqlite
