// Package sqlstore is the SQL both stores share: the queries, the row scanning, the
// filters and the write rules of store.Store, written once against DB, a small
// interface each store adapts its driver to (database/sql for SQLite, pgx for
// PostgreSQL). Queries are written with ? placeholders; a Dialect says what really
// differs between the two databases: how placeholders are numbered, how a store
// serialises the writers of one key, how claims skip rows another server is taking,
// and the name that starts every error message ("sqlite: get execution X: …").
//
// Core holds a store's read pool, its way of running a write transaction and its
// Dialect; sqlite.Store and postgres.Store embed it, so its methods are theirs. Each
// store also takes from here the statements and encoding of a Commit (Prepared), the
// migration runner (Dialect.Migrate, over the store's own list of migrations) and the
// Gate that lets Close wait for accepted writes. What is really different stays in
// each store's package: SQLite's group-commit writer, savepoints, prepared statements
// and directory lock; PostgreSQL's pool, pipelined commit batch, LISTEN/NOTIFY and
// advisory locks; and each store's migrations, whose DDL differs in its types.
package sqlstore
