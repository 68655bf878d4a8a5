//! The store's own tests, one binary: the conformance suite on every backend, and what only one
//! backend shows (SQLite's files, PostgreSQL's several nodes).

mod postgres;
mod sqlite;
