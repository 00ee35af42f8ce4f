// Package postgres implements store.Store on PostgreSQL through pgx (pgxpool), so that
// several sluice servers can share one database. Record versions are checked with
// "UPDATE ... WHERE id = $1 AND version = $2", per-execution seqs come from counter
// columns on the execution row updated in the same transaction, and the service lock is
// a partial unique index over non-terminal executions.
package postgres
