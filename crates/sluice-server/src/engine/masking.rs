//! The masking task (DMASK): a source copied to a target through the load pipeline, with a rule
//! applied to each masked column of every batch. Deterministic rules are keyed by a secret read
//! from a `secret` connection, so the same value masks the same way in every run and table.

use super::mask::{self, ColumnRule, MaskKey};
use super::pipeline::{LoadPlan, run_load, target_plan};
use super::{EngineError, RunContext};
use crate::domain::Outcome;
use crate::domain::connection::ConnectionType;
use crate::domain::load::MaskingDef;
use datafusion::arrow::record_batch::RecordBatch;

/// Parses and checks a definition's rules (`rules[i]: message` on failure).
pub fn parse_rules(def: &MaskingDef) -> Result<Vec<ColumnRule>, String> {
    let mut rules = Vec::with_capacity(def.rules.len());
    for (i, v) in def.rules.iter().enumerate() {
        let r: ColumnRule =
            serde_json::from_value(v.clone()).map_err(|e| format!("rules[{i}]: {e}"))?;
        r.validate().map_err(|e| format!("rules[{i}]: {e}"))?;
        if rules.iter().any(|o: &ColumnRule| o.column == r.column) {
            return Err(format!("rules[{i}]: column `{}` has two rules", r.column));
        }
        rules.push(r);
    }
    Ok(rules)
}

fn key(
    def: &MaskingDef,
    rules: &[ColumnRule],
    ctx: &RunContext,
) -> Result<Option<MaskKey>, EngineError> {
    let needs = rules.iter().find(|r| r.rule.needs_key());
    let Some(name) = &def.key else {
        return match needs {
            Some(r) => Err(EngineError::Definition(format!(
                "rule `{}` on `{}` needs a key: set `key` to a secret connection",
                r.rule.name(),
                r.column
            ))),
            None => Ok(None),
        };
    };
    let conn = ctx.connections.get(name).ok_or_else(|| {
        EngineError::Definition(format!("key: connection `{name}` does not exist"))
    })?;
    if conn.conn_type != ConnectionType::Secret {
        return Err(EngineError::Definition(format!(
            "key: connection `{name}` is a {} connection, not a secret",
            conn.conn_type
        )));
    }
    let secret = conn
        .config
        .secret
        .as_ref()
        .ok_or_else(|| EngineError::Definition(format!("key: `{name}` holds no secret")))?
        .resolve()
        .map_err(|e| EngineError::Definition(format!("key: {e}")))?;
    if secret.len() < 16 {
        return Err(EngineError::Definition(format!(
            "key: the secret in `{name}` is shorter than 16 bytes; a short key is guessable"
        )));
    }
    Ok(Some(MaskKey::new(secret.into_bytes())))
}

/// Masks the ruled columns of a batch.
fn mask_batch(
    b: RecordBatch,
    rules: &[ColumnRule],
    key: Option<&MaskKey>,
) -> Result<RecordBatch, String> {
    let schema = b.schema();
    let mut cols = b.columns().to_vec();
    for r in rules {
        let i = schema.index_of(&r.column).map_err(|_| {
            format!(
                "masking rule for `{}`: the source has no such column",
                r.column
            )
        })?;
        r.rule
            .check_type(cols[i].data_type())
            .map_err(|e| format!("column `{}`: {e}", r.column))?;
        cols[i] = mask::apply(&r.rule, key, &cols[i])
            .map_err(|e| format!("column `{}`: {e}", r.column))?;
    }
    RecordBatch::try_new(schema, cols).map_err(|e| e.to_string())
}

pub async fn run(def: &MaskingDef, ctx: &RunContext) -> Result<Outcome, EngineError> {
    let rules = parse_rules(def).map_err(EngineError::Definition)?;
    let key = key(def, &rules, ctx)?;
    ctx.log.info(format!(
        "masking: {}",
        rules
            .iter()
            .map(|r| format!("`{}` by {}", r.column, r.rule.name()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let plan = LoadPlan {
        source: &def.source,
        target: target_plan(&def.target, ctx)?,
        fields: &[],
        options: &def.options,
        transform: Some(Box::new(move |b| mask_batch(b, &rules, key.as_ref()))),
        watermark: None,
        label: String::new(),
        rejects_path: None,
    };
    let summary = run_load(plan, ctx, &ctx.counters).await?;
    let c = ctx.counters.snapshot();
    ctx.log.info(format!(
        "masking done: {} rows read, {} written, {} rejected",
        c.source_rows_read, c.target_rows_written, summary.rejected
    ));
    Ok(if summary.rejected > 0 || c.source_rows_failed > 0 {
        Outcome::CompletedWithErrors
    } else {
        Outcome::Completed
    })
}
