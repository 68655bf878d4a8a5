//! End-to-end tests: the real `sluice` binary on a random port with a fresh data directory, driven
//! over real HTTP (and through the real CLI), reading real files.

mod auth;
mod bad_input;
mod callback_delivery;
mod callbacks;
mod cli;
mod cluster;
mod code_tasks;
mod crash;
mod examples_db;
mod iics;
mod iics_errors;
mod iics_jobs;
mod iics_xml;
mod mapping;
mod masking;
mod replicate;
mod runajob;
mod runs;
mod schedules;
mod schedules_policies;
mod security_confined;
mod security_input;
mod security_roles;
mod security_secrets;
mod security_signin;
mod spark;
mod spark_cluster;
mod starfish;
mod support;
mod sync;
mod sync_stop;
mod taskflow_status;
mod taskflows;
mod types;
