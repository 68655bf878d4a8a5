//! Sluice, the data-integration job server, as a library: the binary's `main` only parses flags and
//! calls [`server::run`].
//!
//! Layers, from the outside in: `api` (HTTP surfaces) → `service` (the operations every surface
//! shares) → `store` (persistence) and `worker` (claims and runs) → `engine` (moves data) →
//! `domain` (pure types and rules). `notify` delivers callbacks. `events` tells the parts of
//! one node what the others did (a run queued or ended, a callback queued). `telemetry` counts
//! what happens, for Prometheus.

pub mod api;
pub mod config;
pub mod domain;
pub mod engine;
pub mod events;
pub mod notify;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod worker;
