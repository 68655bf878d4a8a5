//! Reading one definition file: TOML into a task or connection as written by people, every
//! problem reported as `field: message`.

use super::task_checks::check_definition;
use crate::domain::task::{self, DEFAULT_FOLDER};
use crate::domain::{ConnectionConfig, ConnectionType, TaskType};
use std::collections::BTreeMap;

/// A task as written by people, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub folder: String,
    pub name: String,
    pub task_type: TaskType,
    pub description: String,
    pub allow_parallel: bool,
    pub chain: Vec<String>,
    pub parameters: BTreeMap<String, String>,
    pub definition: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionSpec {
    pub name: String,
    pub conn_type: ConnectionType,
    pub description: String,
    pub config: ConnectionConfig,
}

#[derive(Debug, Clone)]
pub enum Parsed {
    Task(TaskSpec),
    Connection(ConnectionSpec),
}

/// `field: message` problems of one object.
pub type Problems = Vec<String>;

fn take_string(table: &mut toml::Table, key: &str, problems: &mut Problems) -> Option<String> {
    match table.remove(key) {
        None => None,
        Some(toml::Value::String(s)) => Some(s),
        Some(other) => {
            problems.push(format!(
                "{key}: expected a string, found {}",
                other.type_str()
            ));
            None
        }
    }
}

/// Parses one definition file. `rel_path` (`/`-separated, relative to the definitions root) gives
/// the folder and the name.
pub fn parse_file(rel_path: &str, content: &str) -> Result<Parsed, Problems> {
    let rel = rel_path.trim_start_matches("./");
    let Some(stem) = rel.strip_suffix(".toml") else {
        return Err(vec!["path: definition files end in `.toml`".into()]);
    };
    let (folder, name) = match stem.rsplit_once('/') {
        Some((folder, name)) => (folder.to_string(), name.to_string()),
        None => (DEFAULT_FOLDER.to_string(), stem.to_string()),
    };
    let mut problems = Problems::new();
    if let Err(e) = task::validate_folder(&folder) {
        problems.push(format!("folder: {e}"));
    }
    if let Err(e) = task::validate_name(&name) {
        problems.push(format!("name: {e}"));
    }
    let mut table: toml::Table = match toml::from_str(content) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("toml: {}", e.message()));
            return Err(problems);
        }
    };
    let kind = take_string(&mut table, "kind", &mut problems).unwrap_or_else(|| "task".into());
    let type_name = take_string(&mut table, "type", &mut problems);
    let description = take_string(&mut table, "description", &mut problems).unwrap_or_default();
    let rest = serde_json::to_value(&table).unwrap_or_default();
    let parsed = match kind.as_str() {
        "task" => {
            parse_task(folder, name, type_name, description, rest, &mut problems).map(Parsed::Task)
        }
        "connection" => parse_connection(name, type_name, description, rest, &mut problems)
            .map(Parsed::Connection),
        other => {
            problems.push(format!(
                "kind: `{other}` is neither `task` nor `connection`"
            ));
            None
        }
    };
    match parsed {
        Some(p) if problems.is_empty() => Ok(p),
        _ => Err(problems),
    }
}

fn parse_task(
    folder: String,
    name: String,
    type_name: Option<String>,
    description: String,
    mut rest: serde_json::Value,
    problems: &mut Problems,
) -> Option<TaskSpec> {
    let Some(type_name) = type_name else {
        problems.push("type: missing (MTT, DSS, DRS, DMASK, PCS, WORKFLOW or CODE)".into());
        return None;
    };
    let task_type = match type_name.parse::<TaskType>() {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("type: {e}"));
            return None;
        }
    };
    let obj = rest.as_object_mut().expect("a TOML table is an object");
    let allow_parallel = match obj.remove("allow_parallel") {
        None => false,
        Some(serde_json::Value::Bool(b)) => b,
        Some(_) => {
            problems.push("allow_parallel: expected true or false".into());
            false
        }
    };
    let chain = match obj.remove("chain") {
        None => Vec::new(),
        Some(v) => match serde_json::from_value::<Vec<String>>(v) {
            Ok(c) if c.iter().all(|t| !t.trim().is_empty()) => c,
            _ => {
                problems.push("chain: expected a list of task names (`folder/name`)".into());
                Vec::new()
            }
        },
    };
    let parameters = match obj.remove("parameters") {
        None => BTreeMap::new(),
        Some(v) => match serde_json::from_value::<BTreeMap<String, String>>(v) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("parameters: {e} (values are strings)"));
                BTreeMap::new()
            }
        },
    };
    let spec = TaskSpec {
        folder,
        name,
        task_type,
        description,
        allow_parallel,
        chain,
        parameters,
        definition: rest,
    };
    problems.extend(check_definition(&spec));
    Some(spec)
}

fn parse_connection(
    name: String,
    type_name: Option<String>,
    description: String,
    rest: serde_json::Value,
    problems: &mut Problems,
) -> Option<ConnectionSpec> {
    let conn_type = match type_name.map(|t| t.parse::<ConnectionType>()) {
        None => {
            problems.push("type: missing (files, postgres, mysql or sqlite)".into());
            return None;
        }
        Some(Err(e)) => {
            problems.push(format!("type: {e}"));
            return None;
        }
        Some(Ok(t)) => t,
    };
    let config: ConnectionConfig = match serde_path_to_error::deserialize(rest) {
        Ok(c) => c,
        Err(e) => {
            problems.push(at_path(e.path(), e.inner()));
            return None;
        }
    };
    if let Err((field, msg)) = config.validate(conn_type) {
        problems.push(format!("{field}: {msg}"));
    }
    Some(ConnectionSpec {
        name,
        conn_type,
        description,
        config,
    })
}

/// `field: message`, or just the message for a problem of the whole object (serde's path `.`).
pub(super) fn at_path(path: &serde_path_to_error::Path, inner: &impl std::fmt::Display) -> String {
    let path = path.to_string();
    if path == "." {
        inner.to_string()
    } else {
        format!("{path}: {inner}")
    }
}
