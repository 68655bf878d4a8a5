//! Conversions between SQLite rows and domain types.

use super::{Attempt, Callback, Result, StoreError};
use crate::domain::audit::AuditEvent;
use crate::domain::{
    Connection, Counters, LogLevel, LogLine, Org, Run, RunState, StopMode, Task, Trigger, User,
};
use crate::store::seal::Keyring;
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

pub(super) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(super) fn from_micros(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(v).unwrap_or_default()
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(super) fn uuid(row: &SqliteRow, col: &str) -> Result<Uuid> {
    let s: String = row.try_get(col)?;
    Uuid::parse_str(&s).map_err(|e| corrupt(col, e))
}

fn json<T: serde::de::DeserializeOwned>(row: &SqliteRow, col: &str) -> Result<T> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| corrupt(col, e))
}

fn opt_json<T: serde::de::DeserializeOwned>(row: &SqliteRow, col: &str) -> Result<Option<T>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| corrupt(col, e)))
        .transpose()
}

fn parsed<T: std::str::FromStr<Err = String>>(row: &SqliteRow, col: &str) -> Result<T> {
    let s: String = row.try_get(col)?;
    s.parse().map_err(|e: String| corrupt(col, e))
}

fn opt_time(row: &SqliteRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_micros))
}

pub(super) fn org(row: &SqliteRow) -> Result<Org> {
    Ok(Org {
        id: uuid(row, "id")?,
        name: row.try_get("name")?,
        created_at: from_micros(row.try_get("created_at")?),
    })
}

pub(super) fn user(row: &SqliteRow) -> Result<User> {
    Ok(User {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        username: row.try_get("username")?,
        role: row
            .try_get::<String, _>("role")?
            .parse()
            .map_err(StoreError::Corrupt)?,
        created_at: from_micros(row.try_get("created_at")?),
    })
}

/// An audit event and its number.
pub(super) fn audit_event(row: &SqliteRow) -> Result<(i64, AuditEvent)> {
    let org_id: Option<String> = row.try_get("org_id")?;
    let addr: Option<String> = row.try_get("client_addr")?;
    let event = AuditEvent {
        at: from_micros(row.try_get("at")?),
        org_id: org_id
            .map(|s| Uuid::parse_str(&s).map_err(|e| corrupt("org_id", e)))
            .transpose()?,
        actor: row.try_get("actor")?,
        action: parsed(row, "action")?,
        target: row.try_get("target")?,
        client_addr: addr
            .map(|s| s.parse().map_err(|e| corrupt("client_addr", e)))
            .transpose()?,
        surface: parsed(row, "surface")?,
        outcome: parsed(row, "outcome")?,
        detail: row.try_get("detail")?,
    };
    Ok((row.try_get("seq")?, event))
}

pub(super) fn task(row: &SqliteRow) -> Result<Task> {
    Ok(Task {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        folder: row.try_get("folder")?,
        name: row.try_get("name")?,
        task_type: parsed(row, "task_type")?,
        description: row.try_get("description")?,
        allow_parallel: row.try_get("allow_parallel")?,
        chain: json(row, "chain")?,
        parameters: json(row, "parameters")?,
        definition: json(row, "definition")?,
        origin: json(row, "origin")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

pub(super) fn connection(keyring: &Keyring, row: &SqliteRow) -> Result<Connection> {
    let id = uuid(row, "id")?;
    let stored: serde_json::Value = json(row, "config")?;
    let config = serde_json::from_value(keyring.open_config(id, stored)?)
        .map_err(|e| StoreError::Corrupt(format!("connection {id}: {e}")))?;
    Ok(Connection {
        id,
        org_id: uuid(row, "org_id")?,
        name: row.try_get("name")?,
        conn_type: parsed(row, "conn_type")?,
        description: row.try_get("description")?,
        config,
        origin: json(row, "origin")?,
        created_at: from_micros(row.try_get("created_at")?),
        updated_at: from_micros(row.try_get("updated_at")?),
    })
}

pub(super) fn run(row: &SqliteRow) -> Result<Run> {
    let count = |col: &str| -> Result<u64> { Ok(row.try_get::<i64, _>(col)?.max(0) as u64) };
    let stop_mode: Option<String> = row.try_get("stop_mode")?;
    Ok(Run {
        id: uuid(row, "id")?,
        org_id: uuid(row, "org_id")?,
        task_id: uuid(row, "task_id")?,
        run_number: row.try_get("run_number")?,
        external_id: row.try_get("external_id")?,
        trigger: parsed::<Trigger>(row, "trigger")?,
        started_by: row.try_get("started_by")?,
        parameters: json(row, "parameters")?,
        callback_url: row.try_get("callback_url")?,
        state: parsed::<RunState>(row, "state")?,
        stop_mode: stop_mode
            .map(|m| m.parse::<StopMode>())
            .transpose()
            .map_err(|e| corrupt("stop_mode", e))?,
        stopped_by: row.try_get("stopped_by")?,
        error: row.try_get("error")?,
        counters: Counters {
            source_rows_read: count("source_rows_read")?,
            source_rows_failed: count("source_rows_failed")?,
            target_rows_written: count("target_rows_written")?,
            target_rows_failed: count("target_rows_failed")?,
            inserts: count("inserts")?,
            updates: count("updates")?,
            deletes: count("deletes")?,
            skipped: count("skipped")?,
        },
        created_at: from_micros(row.try_get("created_at")?),
        started_at: opt_time(row, "started_at")?,
        ended_at: opt_time(row, "ended_at")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at: opt_time(row, "lease_expires_at")?,
        spark: opt_json(row, "spark_progress")?,
    })
}

pub(super) fn log_line(row: &SqliteRow) -> Result<LogLine> {
    Ok(LogLine {
        seq: row.try_get("seq")?,
        at: from_micros(row.try_get("at")?),
        level: LogLevel::from_number(row.try_get("level")?),
        message: row.try_get("message")?,
    })
}

pub(super) fn callback(row: &SqliteRow) -> Result<Callback> {
    Ok(Callback {
        id: uuid(row, "id")?,
        run_id: uuid(row, "run_id")?,
        url: row.try_get("url")?,
        state: row.try_get("state")?,
        attempts: row.try_get("attempts")?,
        round_attempts: row.try_get("round_attempts")?,
        round_started_at: from_micros(
            row.try_get::<Option<i64>, _>("round_started_at")?
                .unwrap_or(row.try_get("created_at")?),
        ),
        next_attempt_at: from_micros(row.try_get("next_attempt_at")?),
        created_at: from_micros(row.try_get("created_at")?),
        last_error: row.try_get("last_error")?,
        delivered_at: row
            .try_get::<Option<i64>, _>("delivered_at")?
            .map(from_micros),
    })
}

pub(super) fn attempt(row: &SqliteRow) -> Result<Attempt> {
    Ok(Attempt {
        number: row.try_get("attempt")?,
        started_at: from_micros(row.try_get("started_at")?),
        ended_at: from_micros(row.try_get("ended_at")?),
        status: row.try_get("status_code")?,
        error: row.try_get("error")?,
    })
}

/// Whether an sqlx error is a unique-constraint violation.
pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
