// Package sqlite implements store.Store on an embedded SQLite database (the pure-Go
// modernc.org/sqlite driver) in WAL mode with synchronous=FULL. All writes go through
// one writer goroutine that group-commits every write queued at that moment in a single
// fsynced transaction, each write inside its own SAVEPOINT so that one failing write
// fails alone. Reads use a separate pool of WAL reader connections.
//
// The queries, row scanning and write rules are sqlstore's, which Store embeds; this
// package adapts database/sql to sqlstore.DB, runs sqlstore's writes through the writer
// (each write transaction is one queued write), and keeps what is SQLite's own: the
// writer and its savepoints, the commit statements prepared on the writer connection,
// the checkpointer, the directory lock and the migrations' DDL.
package sqlite
