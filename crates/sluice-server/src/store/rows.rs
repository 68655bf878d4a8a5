//! Conversions from stored rows to domain types, written once for every backend. A backend
//! answers typed cells ([`Cells`]: its own encoding of ids, times and JSON documents); what a row
//! means is decided here.

use super::{Attempt, Callback, Result, StoreError};
use crate::domain::audit::AuditEvent;
use crate::domain::blackout::Blackout;
use crate::domain::schedule::{Fire, Schedule};
use crate::domain::{
    Connection, Counters, LogLevel, LogLine, Org, Run, RunChild, RunState, StopMode, Task, Trigger,
    User,
};
use crate::store::seal::Keyring;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// The typed cells of one row, read by column name in the backend's own encoding.
pub(crate) trait Cells {
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn flag(&self, col: &str) -> Result<bool>;
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>>;
    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>>;
    /// A JSON document, decoded straight into `T`.
    fn opt_doc<T: DeserializeOwned>(&self, col: &str) -> Result<Option<T>>;

    fn text(&self, col: &str) -> Result<String> {
        self.opt_text(col)?.ok_or_else(|| null(col))
    }
    fn int(&self, col: &str) -> Result<i64> {
        self.opt_int(col)?.ok_or_else(|| null(col))
    }
    fn uuid(&self, col: &str) -> Result<Uuid> {
        self.opt_uuid(col)?.ok_or_else(|| null(col))
    }
    fn time(&self, col: &str) -> Result<DateTime<Utc>> {
        self.opt_time(col)?.ok_or_else(|| null(col))
    }
    fn doc<T: DeserializeOwned>(&self, col: &str) -> Result<T> {
        self.opt_doc(col)?.ok_or_else(|| null(col))
    }
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn null(col: &str) -> StoreError {
    StoreError::Corrupt(format!("{col}: unexpected NULL"))
}

fn parsed<T: std::str::FromStr<Err = String>>(row: &impl Cells, col: &str) -> Result<T> {
    row.text(col)?.parse().map_err(|e: String| corrupt(col, e))
}

/// A count as kept (never negative in a sound row).
fn count(row: &impl Cells, col: &str) -> Result<u64> {
    Ok(row.int(col)?.max(0) as u64)
}

fn counters(row: &impl Cells) -> Result<Counters> {
    Ok(Counters {
        source_rows_read: count(row, "source_rows_read")?,
        source_rows_failed: count(row, "source_rows_failed")?,
        target_rows_written: count(row, "target_rows_written")?,
        target_rows_failed: count(row, "target_rows_failed")?,
        inserts: count(row, "inserts")?,
        updates: count(row, "updates")?,
        deletes: count(row, "deletes")?,
        skipped: count(row, "skipped")?,
    })
}

pub(crate) fn org(row: &impl Cells) -> Result<Org> {
    Ok(Org {
        id: row.uuid("id")?,
        name: row.text("name")?,
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn user(row: &impl Cells) -> Result<User> {
    Ok(User {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        username: row.text("username")?,
        role: row.text("role")?.parse().map_err(StoreError::Corrupt)?,
        created_at: row.time("created_at")?,
    })
}

/// An audit event and its number.
pub(crate) fn audit_event(row: &impl Cells) -> Result<(i64, AuditEvent)> {
    let event = AuditEvent {
        at: row.time("at")?,
        org_id: row.opt_uuid("org_id")?,
        actor: row.text("actor")?,
        action: parsed(row, "action")?,
        target: row.text("target")?,
        client_addr: row
            .opt_text("client_addr")?
            .map(|s| s.parse().map_err(|e| corrupt("client_addr", e)))
            .transpose()?,
        surface: parsed(row, "surface")?,
        outcome: parsed(row, "outcome")?,
        detail: row.text("detail")?,
    };
    Ok((row.int("seq")?, event))
}

pub(crate) fn task(row: &impl Cells) -> Result<Task> {
    Ok(Task {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        folder: row.text("folder")?,
        name: row.text("name")?,
        task_type: parsed(row, "task_type")?,
        description: row.text("description")?,
        allow_parallel: row.flag("allow_parallel")?,
        chain: row.doc("chain")?,
        parameters: row.doc("parameters")?,
        definition: row.doc("definition")?,
        policy: row.opt_doc("policy")?.unwrap_or_default(),
        origin: row.doc("origin")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn schedule(row: &impl Cells) -> Result<Schedule> {
    Ok(Schedule {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        timezone: row.text("timezone")?,
        rule: row.doc("rule")?,
        catch_up: parsed(row, "catch_up")?,
        catch_up_window_secs: u64::try_from(row.int("catch_up_window_secs")?)
            .map_err(|e| corrupt("catch_up_window_secs", e))?,
        paused: row.flag("paused")?,
        origin: row.doc("origin")?,
        next_fire_at: row.opt_time("next_fire_at")?,
        last_fire_at: row.opt_time("last_fire_at")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn blackout(row: &impl Cells) -> Result<Blackout> {
    Ok(Blackout {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        timezone: row.text("timezone")?,
        window: row.doc("span")?,
        origin: row.doc("origin")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// A connection with its secrets opened by the keyring.
pub(crate) fn connection(keyring: &Keyring, row: &impl Cells) -> Result<Connection> {
    let id = row.uuid("id")?;
    let stored: serde_json::Value = row.doc("config")?;
    let config = serde_json::from_value(keyring.open_config(id, stored)?)
        .map_err(|e| StoreError::Corrupt(format!("connection {id}: {e}")))?;
    Ok(Connection {
        id,
        org_id: row.uuid("org_id")?,
        name: row.text("name")?,
        conn_type: parsed(row, "conn_type")?,
        description: row.text("description")?,
        config,
        origin: row.doc("origin")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(crate) fn run(row: &impl Cells) -> Result<Run> {
    Ok(Run {
        id: row.uuid("id")?,
        org_id: row.uuid("org_id")?,
        task_id: row.uuid("task_id")?,
        run_number: row.int("run_number")?,
        external_id: row.opt_text("external_id")?,
        trigger: parsed::<Trigger>(row, "trigger")?,
        started_by: row.text("started_by")?,
        parameters: row.doc("parameters")?,
        callback_url: row.opt_text("callback_url")?,
        state: parsed::<RunState>(row, "state")?,
        stop_mode: row
            .opt_text("stop_mode")?
            .map(|m| m.parse::<StopMode>())
            .transpose()
            .map_err(|e| corrupt("stop_mode", e))?,
        stopped_by: row.opt_text("stopped_by")?,
        error: row.opt_text("error")?,
        counters: counters(row)?,
        created_at: row.time("created_at")?,
        started_at: row.opt_time("started_at")?,
        ended_at: row.opt_time("ended_at")?,
        node: row.opt_text("node")?,
        lease_owner: row.opt_text("lease_owner")?,
        lease_expires_at: row.opt_time("lease_expires_at")?,
        spark: row.opt_doc("spark_progress")?,
        fire: fire(row)?,
        attempt: u32::try_from(row.int("attempt")?).map_err(|e| corrupt("attempt", e))?,
        retry_of: row.opt_uuid("retry_of")?,
        retry: row.opt_doc("retry_policy")?.unwrap_or_default(),
        not_before: row.opt_time("not_before")?,
    })
}

fn fire(row: &impl Cells) -> Result<Option<Fire>> {
    let (Some(schedule_id), Some(schedule_name), Some(at)) = (
        row.opt_uuid("schedule_id")?,
        row.opt_text("schedule_name")?,
        row.opt_time("fire_at")?,
    ) else {
        return Ok(None);
    };
    Ok(Some(Fire {
        schedule_id,
        schedule_name,
        at,
    }))
}

pub(crate) fn run_child(row: &impl Cells) -> Result<RunChild> {
    Ok(RunChild {
        run_id: row.uuid("run_id")?,
        seq: i32::try_from(row.int("seq")?).map_err(|e| corrupt("seq", e))?,
        name: row.text("name")?,
        state: row.text("state")?.parse().map_err(StoreError::Corrupt)?,
        started_at: row.opt_time("started_at")?,
        ended_at: row.opt_time("ended_at")?,
        counters: counters(row)?,
        error: row.opt_text("error")?,
        task_id: row.opt_uuid("task_id")?,
        child_run_id: row.opt_uuid("child_run_id")?,
    })
}

pub(crate) fn log_line(row: &impl Cells) -> Result<LogLine> {
    Ok(LogLine {
        seq: row.int("seq")?,
        at: row.time("at")?,
        level: LogLevel::from_number(row.int("level")?),
        message: row.text("message")?,
    })
}

pub(crate) fn callback(row: &impl Cells) -> Result<Callback> {
    let created_at = row.time("created_at")?;
    Ok(Callback {
        id: row.uuid("id")?,
        run_id: row.uuid("run_id")?,
        url: row.text("url")?,
        state: row.text("state")?,
        attempts: row.int("attempts")?,
        round_attempts: row.int("round_attempts")?,
        round_started_at: row.opt_time("round_started_at")?.unwrap_or(created_at),
        next_attempt_at: row.time("next_attempt_at")?,
        created_at,
        last_error: row.opt_text("last_error")?,
        delivered_at: row.opt_time("delivered_at")?,
    })
}

pub(crate) fn attempt(row: &impl Cells) -> Result<Attempt> {
    Ok(Attempt {
        number: row.int("attempt")?,
        started_at: row.time("started_at")?,
        ended_at: row.time("ended_at")?,
        status: row.opt_int("status_code")?,
        error: row.opt_text("error")?,
    })
}

/// Whether an sqlx error is a unique-constraint violation (either backend).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A unique violation as the name (or other value) taken, described by `msg`.
pub(crate) fn conflict_on_unique(e: sqlx::Error, msg: impl FnOnce() -> String) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::NameTaken(msg())
    } else {
        StoreError::from(e)
    }
}

/// `(state, count)` rows of a count grouped by state.
pub fn state_counts(rows: impl Iterator<Item = (String, i64)>) -> Result<Vec<(RunState, i64)>> {
    rows.map(|(state, n)| {
        let state = state
            .parse::<RunState>()
            .map_err(|e| StoreError::Corrupt(format!("runs.state: {e}")))?;
        Ok((state, n))
    })
    .collect()
}
