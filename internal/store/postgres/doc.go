// Package postgres implements store.Store on PostgreSQL through pgx (pgxpool), so that
// several sluice servers can share one database. Record versions are checked with
// "UPDATE ... WHERE id = $1 AND version = $2", per-execution seqs come from counter
// columns on the execution row updated in the same transaction, and the service lock is
// a partial unique index over non-terminal executions.
//
// The queries, row scanning and write rules are sqlstore's, which Store embeds; this
// package adapts pgx to sqlstore.DB, gives it PostgreSQL's dialect (numbered
// placeholders, FOR UPDATE and SKIP LOCKED, advisory locks for the writers of one key),
// and keeps what is PostgreSQL's own: the pool, the pipelined commit batch and the
// reading of a failed commit's conflict, LISTEN/NOTIFY, and the migrations' DDL.
package postgres
