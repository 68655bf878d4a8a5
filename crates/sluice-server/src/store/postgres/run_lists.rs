//! Lists of runs a filter selects, and their counts by state (the monitor's runs page). The
//! statement names only the conditions the filter sets, so the planner picks the index that fits
//! (an org's newest runs by `runs_by_org`; its counts from `runs_by_org_state`).

use super::*;
use crate::store::rows;
use sqlx::postgres::PgArguments;
use sqlx::{Postgres, Row};

/// A value a condition binds.
enum Arg {
    Uuid(Uuid),
    Text(String),
    Texts(Vec<String>),
    Time(DateTime<Utc>),
    Int(i64),
}

/// The filter's conditions (its paging aside; its states unless `with_states` is false), and
/// what they bind, in order ($1, $2, ...).
fn conditions(org_id: Uuid, f: &RunFilter, with_states: bool) -> (String, Vec<Arg>) {
    let mut sql = String::from("org_id = $1");
    let mut args = vec![Arg::Uuid(org_id)];
    let mut add = |cond: &str, arg: Arg| {
        args.push(arg);
        sql.push_str(" AND ");
        sql.push_str(&cond.replace("$?", &format!("${}", args.len())));
    };
    if let Some(t) = f.task_id {
        add("task_id = $?", Arg::Uuid(t));
    }
    if let Some(t) = f.task_type {
        add(
            "task_id IN (SELECT id FROM tasks WHERE org_id = $1 AND task_type = $?)",
            Arg::Text(t.code().into()),
        );
    }
    if let Some(folder) = &f.folder {
        add(
            "task_id IN (SELECT id FROM tasks WHERE org_id = $1 AND folder = $?)",
            Arg::Text(folder.clone()),
        );
    }
    if let Some(from) = f.started_from {
        add("COALESCE(started_at, created_at) >= $?", Arg::Time(from));
    }
    if let Some(to) = f.started_to {
        add("COALESCE(started_at, created_at) <= $?", Arg::Time(to));
    }
    if let Some(t) = f.trigger {
        add("trigger = $?", Arg::Text(t.as_str().into()));
    }
    if let Some(node) = &f.node {
        add("node = $?", Arg::Text(node.clone()));
    }
    if with_states && !f.states.is_empty() {
        let states = f.states.iter().map(|s| s.as_str().to_string()).collect();
        add("state = ANY($?)", Arg::Texts(states));
    }
    (sql, args)
}

fn bind_all(
    mut q: sqlx::query::Query<'_, Postgres, PgArguments>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'_, Postgres, PgArguments> {
    for a in args {
        q = match a {
            Arg::Uuid(u) => q.bind(u),
            Arg::Text(t) => q.bind(t),
            Arg::Texts(t) => q.bind(t),
            Arg::Time(t) => q.bind(t),
            Arg::Int(i) => q.bind(i),
        };
    }
    q
}

pub(super) async fn list_runs(s: &PgStore, org_id: Uuid, f: &RunFilter) -> Result<Vec<Run>> {
    let (mut cond, mut args) = conditions(org_id, f, true);
    if let Some(before) = f.before {
        args.push(Arg::Uuid(before));
        cond.push_str(&format!(" AND id < ${}", args.len()));
    }
    args.push(Arg::Int(if f.limit > 0 { f.limit } else { 100 }));
    args.push(Arg::Int(f.offset.max(0)));
    let n = args.len();
    let sql = format!(
        "SELECT * FROM runs WHERE {cond} ORDER BY id DESC LIMIT ${} OFFSET ${n}",
        n - 1
    );
    bind_all(sqlx::query(&sql), args)
        .fetch_all(&s.pool)
        .await?
        .iter()
        .map(rows::run)
        .collect()
}

pub(super) async fn count_runs(
    s: &PgStore,
    org_id: Uuid,
    f: &RunFilter,
) -> Result<Vec<(RunState, i64)>> {
    let (cond, args) = conditions(org_id, f, false);
    let sql = format!("SELECT state, COUNT(*) AS n FROM runs WHERE {cond} GROUP BY state");
    let rows = bind_all(sqlx::query(&sql), args).fetch_all(&s.pool).await?;
    rows::state_counts(
        rows.iter()
            .map(|r| (r.get::<String, _>("state"), r.get::<i64, _>("n"))),
    )
}

/// Each task's newest run: one probe of `runs_by_task` per task of the org, never a scan of
/// its runs.
pub(super) async fn latest_runs(s: &PgStore, org_id: Uuid) -> Result<Vec<Run>> {
    sqlx::query(
        "SELECT r.* FROM tasks t JOIN runs r ON r.id =
            (SELECT id FROM runs WHERE task_id = t.id ORDER BY id DESC LIMIT 1)
         WHERE t.org_id = $1",
    )
    .bind(org_id)
    .fetch_all(&s.pool)
    .await?
    .iter()
    .map(rows::run)
    .collect()
}

pub(super) async fn count_active_runs(s: &PgStore) -> Result<Vec<(RunState, i64)>> {
    let rows = sqlx::query(
        "SELECT state, COUNT(*) AS n FROM runs
         WHERE state IN ('queued', 'starting', 'running', 'stopping') GROUP BY state",
    )
    .fetch_all(&s.pool)
    .await?;
    rows::state_counts(
        rows.iter()
            .map(|r| (r.get::<String, _>("state"), r.get::<i64, _>("n"))),
    )
}
