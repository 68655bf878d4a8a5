//! The one SQL statement a load runs over its source: which columns go where (by name, or by the
//! task's field mapping), the row range, and a file source's filter.

use crate::domain::load::{FieldMap, LoadOptions};
use crate::engine::EngineError;
use crate::engine::RunContext;
use crate::engine::db::TargetColumn;
use crate::engine::sql_guard::SqlKind;

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The projection: `SELECT <fields> FROM <source, row range applied> [WHERE <file filter>]`.
pub(super) fn projection_sql(
    source_cols: &[String],
    target_cols: Option<&[TargetColumn]>,
    fields: &[FieldMap],
    options: &LoadOptions,
    file_filter: Option<&str>,
    ctx: &RunContext,
    label: &str,
) -> Result<String, EngineError> {
    let exprs = if fields.is_empty() {
        by_name(source_cols, target_cols, ctx, label)?
    } else {
        mapped(fields, ctx)?
    };
    let filter = file_filter
        .map(|f| {
            ctx.substitute_sql(f, SqlKind::Expression, "source.filter")
                .map(|f| format!(" WHERE {f}"))
        })
        .transpose()?
        .unwrap_or_default();
    Ok(format!(
        "SELECT {} FROM {}{filter}",
        exprs.join(", "),
        row_range(options, ctx)
    ))
}

/// Without a field mapping: each source column into the target column of its name (exact, else
/// ignoring case); columns the target lacks are left out, saying so.
fn by_name(
    source_cols: &[String],
    target_cols: Option<&[TargetColumn]>,
    ctx: &RunContext,
    label: &str,
) -> Result<Vec<String>, EngineError> {
    let mut exprs = Vec::new();
    for s in source_cols {
        let target = match target_cols {
            None => Some(s.clone()),
            Some(cols) => cols
                .iter()
                .find(|c| &c.name == s)
                .or_else(|| cols.iter().find(|c| c.name.eq_ignore_ascii_case(s)))
                .map(|c| c.name.clone()),
        };
        match target {
            Some(t) => exprs.push(format!("{} AS {}", quote(s), quote(&t))),
            None => ctx.log.info(format!(
                "{label}source column `{s}` has no target column of that name; not loaded"
            )),
        }
    }
    if exprs.is_empty() {
        return Err(EngineError::Definition(
            "no source column matches a target column by name; map them with `fields`".into(),
        ));
    }
    Ok(exprs)
}

/// With a field mapping: each target field from its source column or expression.
fn mapped(fields: &[FieldMap], ctx: &RunContext) -> Result<Vec<String>, EngineError> {
    let mut exprs = Vec::new();
    for f in fields {
        let e = match (&f.expr, &f.source) {
            (Some(e), None) => format!(
                "({})",
                ctx.substitute_sql(e, SqlKind::Expression, &format!("fields.{}", f.target))?
            ),
            (None, Some(s)) => quote(s),
            (None, None) => quote(&f.target),
            (Some(_), Some(_)) => {
                return Err(EngineError::Definition(format!(
                    "fields: `{}` has both `source` and `expr`",
                    f.target
                )));
            }
        };
        exprs.push(format!("{e} AS {}", quote(&f.target)));
    }
    Ok(exprs)
}

/// The source with the row range applied (`first_row`/`last_row`, 1-based and inclusive; a run's
/// options override the task's).
fn row_range(options: &LoadOptions, ctx: &RunContext) -> String {
    let first = ctx
        .run_option("first_row")
        .or(options.first_row)
        .unwrap_or(1)
        .max(1);
    match ctx.run_option("last_row").or(options.last_row) {
        Some(last) if last < first => "(SELECT * FROM source LIMIT 0) AS source".to_string(),
        Some(last) => format!(
            "(SELECT * FROM source LIMIT {} OFFSET {}) AS source",
            last - first + 1,
            first - 1
        ),
        None if first > 1 => format!("(SELECT * FROM source OFFSET {}) AS source", first - 1),
        None => "source".to_string(),
    }
}
