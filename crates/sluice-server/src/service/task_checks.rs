//! Static checks of a task's definition: its type's definition reads and holds together (each
//! problem as `field: message`), and the files a mapping reads exist.

use super::definition_files::{Problems, TaskSpec, at_path};
use super::load_checks;
use crate::domain::code::CodeDef;
use crate::domain::load::{MaskingDef, ReplicationDef, SyncDef};
use crate::domain::task::MappingDef;
use crate::domain::taskflow::TaskflowDef;
use crate::domain::{TaskType, params};
use std::path::Path;

/// Checks a task's type-specific definition without touching the file system.
pub fn check_definition(spec: &TaskSpec) -> Problems {
    match spec.task_type {
        TaskType::Mapping => parsed::<MappingDef>(spec, check_mapping),
        TaskType::Synchronization => parsed::<SyncDef>(spec, load_checks::check_sync),
        TaskType::Replication => parsed::<ReplicationDef>(spec, load_checks::check_replication),
        TaskType::Masking => parsed::<MaskingDef>(spec, load_checks::check_masking),
        TaskType::Code => parsed::<CodeDef>(spec, CodeDef::problems),
        TaskType::Workflow => parsed::<TaskflowDef>(spec, TaskflowDef::problems),
        other => vec![format!(
            "type: {other} tasks are not supported by this version of Sluice yet (MTT, DSS, DRS, DMASK, WORKFLOW and CODE are)"
        )],
    }
}

/// The definition read as a `T` and checked with `check`; a definition that does not read says
/// where (`field: message`).
fn parsed<T: serde::de::DeserializeOwned>(
    spec: &TaskSpec,
    check: impl FnOnce(&T) -> Problems,
) -> Problems {
    match serde_path_to_error::deserialize::<_, T>(spec.definition.clone()) {
        Err(e) => vec![at_path(e.path(), e.inner())],
        Ok(def) => check(&def),
    }
}

fn check_mapping(def: &MappingDef) -> Problems {
    let mut problems = Problems::new();
    if def.sources.is_empty() && def.tables.is_empty() {
        problems.push(
            "sources: a mapping task needs at least one source (a file in `sources` or a database table in `tables`)".into(),
        );
    }
    for (i, t) in def.tables.iter().enumerate() {
        if def.sources.iter().any(|s| s.name == t.name)
            || def.tables[..i].iter().any(|o| o.name == t.name)
        {
            problems.push(format!("tables[{i}].name: `{}` is used twice", t.name));
        }
        if t.table.is_some() == t.query.is_some() {
            problems.push(format!("tables[{i}]: give a `table` or a `query`"));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in def.sources.iter().enumerate() {
        let valid_ident = !s.name.is_empty()
            && s.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.name.starts_with(|c: char| c.is_ascii_digit());
        if !valid_ident {
            problems.push(format!(
                "sources[{i}].name: `{}` must be a plain SQL name (letters, digits, `_`)",
                s.name
            ));
        }
        if !seen.insert(s.name.to_ascii_lowercase()) {
            problems.push(format!("sources[{i}].name: `{}` is used twice", s.name));
        }
        if !s.delimiter.is_ascii() {
            problems.push(format!(
                "sources[{i}].delimiter: must be one ASCII character"
            ));
        }
    }
    if def.transform.is_none() && def.sources.len() + def.tables.len() > 1 {
        problems.push("transform: required when there is more than one source".into());
    }
    if let Some(t) = &def.transform
        && params::references(&t.sql).is_empty()
    {
        use datafusion::sql::sqlparser::{dialect::GenericDialect, parser::Parser};
        if let Err(e) = Parser::parse_sql(&GenericDialect {}, &t.sql) {
            problems.push(format!("transform.sql: {e}"));
        }
    }
    problems
}

/// Checks what needs the file system: source files exist (when their path has no parameters and
/// no connection).
pub(super) fn check_files(spec: &TaskSpec, base: &Path) -> Problems {
    let mut problems = Problems::new();
    if spec.task_type != TaskType::Mapping {
        return problems;
    }
    let Ok(def) = serde_json::from_value::<MappingDef>(spec.definition.clone()) else {
        return problems;
    };
    for (i, s) in def.sources.iter().enumerate() {
        if s.connection.is_some() || !params::references(&s.path).is_empty() {
            continue;
        }
        let full = base.join(&s.path);
        let pattern = full.to_string_lossy();
        let matched = glob::glob(&pattern)
            .map(|mut paths| paths.next().is_some())
            .unwrap_or(false);
        if !matched {
            let field = if def.sources.len() == 1 {
                "source.path".to_string()
            } else {
                format!("sources[{i}].path")
            };
            problems.push(format!("{field}: file not found ({})", full.display()));
        }
    }
    problems
}
