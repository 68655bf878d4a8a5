//! Lists of runs a filter selects, and their counts by state (the monitor's runs page). The
//! statement names only the conditions the filter sets, so SQLite picks the index that fits
//! (an org's newest runs by `runs_by_org`; its counts from `runs_by_org_state` alone).

use super::cells::micros;
use super::*;
use crate::store::rows;
use sqlx::{Row, Sqlite};

/// A value a condition binds.
#[derive(Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

/// The filter's conditions (its states and paging aside), and what they bind, in order.
fn conditions(org_id: Uuid, f: &RunFilter) -> (String, Vec<Arg>) {
    let mut sql = String::from("org_id = ?");
    let mut args = vec![Arg::Text(org_id.to_string())];
    let mut add = |cond: &str, arg: Arg| {
        sql.push_str(" AND ");
        sql.push_str(cond);
        args.push(arg);
    };
    if let Some(t) = f.task_id {
        add("task_id = ?", Arg::Text(t.to_string()));
    }
    // Task ids are unique across orgs: the run's own org condition keeps the answer in the org.
    if let Some(t) = f.task_type {
        add(
            "task_id IN (SELECT id FROM tasks WHERE task_type = ?)",
            Arg::Text(t.code().into()),
        );
    }
    if let Some(folder) = &f.folder {
        add(
            "task_id IN (SELECT id FROM tasks WHERE folder = ?)",
            Arg::Text(folder.clone()),
        );
    }
    if let Some(from) = f.started_from {
        add(
            "COALESCE(started_at, created_at) >= ?",
            Arg::Int(micros(from)),
        );
    }
    if let Some(to) = f.started_to {
        add(
            "COALESCE(started_at, created_at) <= ?",
            Arg::Int(micros(to)),
        );
    }
    if let Some(t) = f.trigger {
        add("trigger = ?", Arg::Text(t.as_str().into()));
    }
    if let Some(node) = &f.node {
        add("node = ?", Arg::Text(node.clone()));
    }
    (sql, args)
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for a in args {
        q = match a {
            Arg::Text(t) => q.bind(t),
            Arg::Int(i) => q.bind(i),
        };
    }
    q
}

/// The newest runs the filter selects. Several states are read as one branch per state, each
/// walking `runs_by_org_state` backwards, merged: SQLite reads an `IN` list of states in no
/// useful order, and would walk every run of the org instead.
pub(super) async fn list_runs(s: &SqliteStore, org_id: Uuid, f: &RunFilter) -> Result<Vec<Run>> {
    let (mut cond, mut args) = conditions(org_id, f);
    if let Some(before) = f.before {
        cond.push_str(" AND id < ?");
        args.push(Arg::Text(before.to_string()));
    }
    let limit = if f.limit > 0 { f.limit } else { 100 };
    let offset = f.offset.max(0);
    let (sql, args) = match f.states.as_slice() {
        [] => (format!("SELECT * FROM runs WHERE {cond}"), args),
        states => {
            let mut all = Vec::new();
            // Each state once, whatever the filter repeats: a branch per entry would list its
            // runs twice.
            let branches: Vec<String> = RunState::ALL
                .into_iter()
                .filter(|s| states.contains(s))
                .map(|state| {
                    all.extend(args.iter().cloned());
                    all.push(Arg::Text(state.as_str().into()));
                    all.push(Arg::Int(limit + offset));
                    format!(
                        "SELECT * FROM (SELECT * FROM runs WHERE {cond} AND state = ? \
                         ORDER BY id DESC LIMIT ?)"
                    )
                })
                .collect();
            (branches.join(" UNION ALL "), all)
        }
    };
    let mut args = args;
    args.push(Arg::Int(limit));
    args.push(Arg::Int(offset));
    let sql = format!("{sql} ORDER BY id DESC LIMIT ? OFFSET ?");
    bind_all(sqlx::query(&sql), args)
        .fetch_all(&s.read)
        .await?
        .iter()
        .map(rows::run)
        .collect()
}

pub(super) async fn count_runs(
    s: &SqliteStore,
    org_id: Uuid,
    f: &RunFilter,
) -> Result<Vec<(RunState, i64)>> {
    let (cond, args) = conditions(org_id, f);
    let sql = format!("SELECT state, COUNT(*) AS n FROM runs WHERE {cond} GROUP BY state");
    let rows = bind_all(sqlx::query(&sql), args).fetch_all(&s.read).await?;
    rows::state_counts(
        rows.iter()
            .map(|r| (r.get::<String, _>("state"), r.get::<i64, _>("n"))),
    )
}

/// Each task's newest run: one probe of `runs_by_task` per task of the org, never a scan of
/// its runs.
pub(super) async fn latest_runs(s: &SqliteStore, org_id: Uuid) -> Result<Vec<Run>> {
    sqlx::query(
        "SELECT r.* FROM tasks t JOIN runs r ON r.id =
            (SELECT id FROM runs WHERE task_id = t.id ORDER BY id DESC LIMIT 1)
         WHERE t.org_id = ?",
    )
    .bind(org_id.to_string())
    .fetch_all(&s.read)
    .await?
    .iter()
    .map(rows::run)
    .collect()
}

pub(super) async fn count_active_runs(s: &SqliteStore) -> Result<Vec<(RunState, i64)>> {
    let rows = sqlx::query(
        "SELECT state, COUNT(*) AS n FROM runs
         WHERE state IN ('queued', 'starting', 'running', 'stopping') GROUP BY state",
    )
    .fetch_all(&s.read)
    .await?;
    rows::state_counts(
        rows.iter()
            .map(|r| (r.get::<String, _>("state"), r.get::<i64, _>("n"))),
    )
}
