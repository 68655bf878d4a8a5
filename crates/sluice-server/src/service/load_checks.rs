//! Static checks of the loading task types (DSS, DRS, DMASK): what can be known wrong from the
//! definition alone, each problem as `field: message`. Connections are checked when a run starts.

use super::definitions::Problems;
use crate::domain::load::{
    FieldMap, LoadOptions, MaskingDef, ObjectSource, ObjectTarget, Operation, ReplicationDef,
    ReplicationMode, SyncDef,
};
use crate::engine::sql_guard::{self, SqlKind};

/// A piece of user SQL within its bounds (see `engine::sql_guard`).
pub fn check_sql(field: &str, text: &str, kind: SqlKind, p: &mut Problems) {
    if let Err(e) = sql_guard::check(text, kind) {
        p.push(format!("{field}: {e}"));
    }
}

fn check_source(s: &ObjectSource, p: &mut Problems) {
    if let Some(f) = &s.filter {
        let kind = if s.is_file() {
            SqlKind::Expression
        } else {
            SqlKind::Native
        };
        check_sql("source.filter", f, kind, p);
    }
    if let Some(q) = &s.query {
        check_sql("source.query", q, SqlKind::Native, p);
    }
    if s.is_file() {
        if s.format.is_none() {
            p.push("source.format: required for a file source (csv, parquet or json)".into());
        }
        if s.path.is_none() {
            p.push("source.path: required for a file source".into());
        }
        if s.table.is_some() || s.query.is_some() {
            p.push("source: a file source takes no `table` or `query`".into());
        }
        if !s.delimiter.is_ascii() {
            p.push("source.delimiter: must be one ASCII character".into());
        }
        return;
    }
    if s.connection.is_none() {
        p.push("source.connection: required (or give a file `format` and `path`)".into());
    }
    match (&s.table, &s.query) {
        (None, None) => p.push("source: give a `table` or a `query`".into()),
        (Some(_), Some(_)) => p.push("source: give a `table` or a `query`, not both".into()),
        (None, Some(_)) if s.filter.is_some() => {
            p.push("source.filter: put the condition in the query".into())
        }
        _ => {}
    }
}

fn check_target(t: &ObjectTarget, p: &mut Problems) {
    if t.is_file() {
        if t.format.is_none() || t.path.is_none() {
            p.push("target: a file target needs `format` and `path`".into());
        }
        if t.operation != Operation::Insert {
            p.push(format!(
                "target.operation: a file target only takes insert, not {}",
                t.operation
            ));
        }
        return;
    }
    if t.connection.is_none() {
        p.push("target.connection: required (or give a file `format` and `path`)".into());
    }
    if t.table.is_none() {
        p.push("target.table: required".into());
    }
    if t.operation != Operation::Insert && t.keys.is_empty() {
        p.push(format!(
            "target.keys: the {} operation matches rows on key columns; list them",
            t.operation
        ));
    }
    if t.truncate && t.operation == Operation::Delete {
        p.push("target.truncate: truncating before deleting leaves nothing to delete".into());
    }
}

fn check_fields(fields: &[FieldMap], p: &mut Problems) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, f) in fields.iter().enumerate() {
        if let Some(e) = &f.expr {
            check_sql(&format!("fields[{i}].expr"), e, SqlKind::Expression, p);
        }
        if f.source.is_some() && f.expr.is_some() {
            p.push(format!("fields[{i}]: give `source` or `expr`, not both"));
        }
        if !seen.insert(f.target.as_str()) {
            p.push(format!(
                "fields[{i}].target: `{}` is mapped twice",
                f.target
            ));
        }
    }
}

fn check_options(o: &LoadOptions, p: &mut Problems) {
    if let (Some(a), Some(b)) = (o.first_row, o.last_row)
        && b < a
    {
        p.push(format!("options.last_row: {b} is before first_row {a}"));
    }
    if o.first_row == Some(0) {
        p.push("options.first_row: rows count from 1".into());
    }
    if o.commit_every == Some(0) {
        p.push("options.commit_every: must be at least 1".into());
    }
    if let Some(t) = o.threads
        && !(1..=64).contains(&t)
    {
        p.push("options.threads: between 1 and 64".into());
    }
}

pub fn check_sync(d: &SyncDef) -> Problems {
    let mut p = Problems::new();
    check_source(&d.source, &mut p);
    check_target(&d.target, &mut p);
    check_fields(&d.fields, &mut p);
    check_options(&d.options, &mut p);
    p
}

pub fn check_masking(d: &MaskingDef) -> Problems {
    let mut p = Problems::new();
    check_source(&d.source, &mut p);
    check_target(&d.target, &mut p);
    check_options(&d.options, &mut p);
    if d.rules.is_empty() {
        p.push("rules: a masking task needs at least one rule".into());
    }
    if let Err(e) = crate::engine::masking::parse_rules(d) {
        p.push(e);
    }
    p
}

pub fn check_replication(d: &ReplicationDef) -> Problems {
    let mut p = Problems::new();
    if d.source.tables.is_empty() && d.source.pattern.is_none() {
        p.push("source: list `tables` or give a name `pattern`".into());
    }
    let t = &d.target;
    match (&t.connection, t.format, &t.path) {
        (Some(_), None, None) => {}
        (None, Some(_), Some(_)) => {
            if d.mode == ReplicationMode::Incremental {
                p.push("mode: incremental replication needs a database target".into());
            }
        }
        _ => p.push(
            "target: give a database `connection`, or a file `format` and a directory `path`"
                .into(),
        ),
    }
    if d.mode == ReplicationMode::Incremental && d.watermark.is_none() && d.watermarks.is_empty() {
        p.push("watermark: incremental replication needs a watermark column".into());
    }
    check_options(&d.options, &mut p);
    p
}
