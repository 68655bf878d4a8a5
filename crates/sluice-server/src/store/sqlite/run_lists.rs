//! Lists of runs a filter selects, and their counts by state (the monitor's runs page). The
//! statement names only the conditions the filter sets, so SQLite picks the index that fits
//! (an org's newest runs by `runs_by_org`; its counts from `runs_by_org_state` alone).

use super::cells::micros;
use super::*;
use crate::store::rows;
use sqlx::{Row, Sqlite};

/// A value a condition binds.
enum Arg {
    Text(String),
    Int(i64),
}

/// The filter's conditions (its paging aside; its states unless `with_states` is false), and
/// what they bind, in order.
fn conditions(org_id: Uuid, f: &RunFilter, with_states: bool) -> (String, Vec<Arg>) {
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
    if with_states && !f.states.is_empty() {
        // The names are the domain's own, not the caller's text.
        let list: Vec<String> = f
            .states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        sql.push_str(&format!(" AND state IN ({})", list.join(", ")));
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

pub(super) async fn list_runs(s: &SqliteStore, org_id: Uuid, f: &RunFilter) -> Result<Vec<Run>> {
    let (mut cond, mut args) = conditions(org_id, f, true);
    if let Some(before) = f.before {
        cond.push_str(" AND id < ?");
        args.push(Arg::Text(before.to_string()));
    }
    args.push(Arg::Int(if f.limit > 0 { f.limit } else { 100 }));
    args.push(Arg::Int(f.offset.max(0)));
    let sql = format!("SELECT * FROM runs WHERE {cond} ORDER BY id DESC LIMIT ? OFFSET ?");
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
    let (cond, args) = conditions(org_id, f, false);
    let sql = format!("SELECT state, COUNT(*) AS n FROM runs WHERE {cond} GROUP BY state");
    let rows = bind_all(sqlx::query(&sql), args).fetch_all(&s.read).await?;
    rows::state_counts(
        rows.iter()
            .map(|r| (r.get::<String, _>("state"), r.get::<i64, _>("n"))),
    )
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
