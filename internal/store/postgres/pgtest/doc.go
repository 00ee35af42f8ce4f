// Package pgtest gives tests of other packages an empty PostgreSQL schema of their
// own on the server named by SLUICE_TEST_POSTGRES_DSN (started by scripts/postgres.sh).
package pgtest
