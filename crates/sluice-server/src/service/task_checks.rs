//! Static checks of a task's definition: its type's definition reads and holds together (each
//! problem as `field: message`), and the files a mapping reads exist.

use super::at_path;
use super::definition_files::{Problems, TaskSpec};
use super::load_checks;
use crate::domain::code::CodeDef;
use crate::domain::load::{MaskingDef, ReplicationDef, SyncDef};
use crate::domain::task::MappingDef;
use crate::domain::taskflow::TaskflowDef;
use crate::domain::{TaskType, params};
use crate::engine::sql_guard::SqlKind;
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
        for (field, text) in [("query", &t.query), ("filter", &t.filter)] {
            if let Some(text) = text {
                let at = format!("tables[{i}].{field}");
                load_checks::check_sql(&at, text, SqlKind::Native, &mut problems);
            }
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
    if let Some(t) = &def.transform {
        let before = problems.len();
        load_checks::check_sql("transform.sql", &t.sql, SqlKind::Query, &mut problems);
        // Parsed here only once known to be within bounds (a tree's depth is what overflows).
        if problems.len() == before && params::references(&t.sql).is_empty() {
            use datafusion::sql::sqlparser::{dialect::GenericDialect, parser::Parser};
            if let Err(e) = Parser::parse_sql(&GenericDialect {}, &t.sql) {
                problems.push(format!("transform.sql: {e}"));
            }
        }
    }
    problems
}

/// Checks a code task against the runtime environments the operator defined: the environment it
/// names, the program it runs, and (for tasks defined through an API, or any in an environment
/// with its own directory) paths that stay inside the environment's working directory.
pub fn check_code_environment(
    spec: &TaskSpec,
    envs: &std::collections::BTreeMap<String, crate::domain::runtime_env::RuntimeEnvironment>,
    from_api: bool,
    org: &str,
) -> Problems {
    use crate::domain::runtime_env::{environment_for, is_plain_relative};
    if spec.task_type != TaskType::Code {
        return Problems::new();
    }
    let Ok(def) = serde_json::from_value::<CodeDef>(spec.definition.clone()) else {
        return Problems::new();
    };
    // A program named by a parameter is checked when it runs, once it has a value.
    let program = Some(def.program.as_str()).filter(|p| params::references(p).is_empty());
    let mut problems = Problems::new();
    let env = match environment_for(envs, &def, program, from_api, org) {
        Ok(env) => env,
        Err(e) => return vec![e],
    };
    if from_api || env.working_dir.is_some() {
        let paths = def
            .working_dir
            .iter()
            .map(|p| ("working_dir", p))
            .chain(def.application.iter().map(|p| ("application", p)))
            .chain(def.files.iter().map(|p| ("files", p)));
        for (field, p) in paths {
            if !is_plain_relative(p) {
                problems.push(format!(
                    "{field}: `{p}` must be a relative path inside the runtime environment's working directory"
                ));
            }
        }
    }
    problems
}

/// The file paths a task reads and writes, by field.
fn file_paths(spec: &TaskSpec) -> Vec<(String, String)> {
    let d = &spec.definition;
    let at = |ptr: &str| d.pointer(ptr).and_then(|v| v.as_str()).map(String::from);
    let mut out = Vec::new();
    match spec.task_type {
        TaskType::Mapping => {
            if let Ok(def) = serde_json::from_value::<MappingDef>(d.clone()) {
                for (i, s) in def.sources.iter().enumerate() {
                    out.push((format!("sources[{i}].path"), s.path.clone()));
                }
                out.push(("target.path".into(), def.target.path));
            }
        }
        TaskType::Synchronization | TaskType::Masking | TaskType::Replication => {
            for field in ["source", "target"] {
                if let Some(p) = at(&format!("/{field}/path")) {
                    out.push((format!("{field}.path"), p));
                }
            }
        }
        _ => {}
    }
    out
}

/// A task defined through an API names files only by relative paths, inside its connection's
/// root or its org's file area (checked again when it runs, after parameters are substituted).
pub fn check_api_paths(spec: &TaskSpec) -> Problems {
    file_paths(spec)
        .into_iter()
        .filter(|(_, p)| params::references(p).is_empty())
        .filter(|(_, p)| !crate::domain::runtime_env::is_plain_relative(p))
        .map(|(field, p)| {
            format!(
                "{field}: `{p}` must be a relative path inside its connection's root or the org's file area"
            )
        })
        .collect()
}

/// Checks what needs the file system: source files exist (when their path has no parameters and
/// no connection).
pub(super) fn check_files(spec: &TaskSpec, base: &Path, base_shown: bool) -> Problems {
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
            // The operator sees where it was looked for; an org's user only its own path.
            let shown = if base_shown {
                full.display().to_string()
            } else {
                format!("{} in the org's file area", s.path)
            };
            problems.push(format!("{field}: file not found ({shown})"));
        }
    }
    problems
}
