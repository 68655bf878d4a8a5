//! Definition files: one TOML file per task or connection, folders as directories. Parsing,
//! validation (every problem reported as `<file>: <field>: <message>`), loading a directory,
//! applying a bundle sent over the API, and exporting back to files.

use super::load_checks;
use super::{App, Result, ServiceError};
use crate::domain::load::{MaskingDef, ReplicationDef, SyncDef};
use crate::domain::task::{self, DEFAULT_FOLDER, MappingDef};
use crate::domain::{
    Connection, ConnectionConfig, ConnectionType, Origin, Task, TaskType, ids, params,
};
use chrono::Utc;
use sluice_types::{ApplyReport, DefinitionBundle, DefinitionFile};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use uuid::Uuid;

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
fn at_path(path: &serde_path_to_error::Path, inner: &impl std::fmt::Display) -> String {
    let path = path.to_string();
    if path == "." {
        inner.to_string()
    } else {
        format!("{path}: {inner}")
    }
}

/// Checks a task's type-specific definition without touching the file system.
pub fn check_definition(spec: &TaskSpec) -> Problems {
    let mut problems = Problems::new();
    match spec.task_type {
        TaskType::Mapping => {
            match serde_path_to_error::deserialize::<_, MappingDef>(spec.definition.clone()) {
                Err(e) => problems.push(at_path(e.path(), e.inner())),
                Ok(def) => problems.extend(check_mapping(&def)),
            }
        }
        TaskType::Synchronization => {
            match serde_path_to_error::deserialize::<_, SyncDef>(spec.definition.clone()) {
                Err(e) => problems.push(at_path(e.path(), e.inner())),
                Ok(def) => problems.extend(load_checks::check_sync(&def)),
            }
        }
        TaskType::Replication => {
            match serde_path_to_error::deserialize::<_, ReplicationDef>(spec.definition.clone()) {
                Err(e) => problems.push(at_path(e.path(), e.inner())),
                Ok(def) => problems.extend(load_checks::check_replication(&def)),
            }
        }
        TaskType::Masking => {
            match serde_path_to_error::deserialize::<_, MaskingDef>(spec.definition.clone()) {
                Err(e) => problems.push(at_path(e.path(), e.inner())),
                Ok(def) => problems.extend(load_checks::check_masking(&def)),
            }
        }
        TaskType::Code => {
            match serde_path_to_error::deserialize::<_, crate::domain::code::CodeDef>(
                spec.definition.clone(),
            ) {
                Err(e) => problems.push(at_path(e.path(), e.inner())),
                Ok(def) => problems.extend(def.problems()),
            }
        }
        TaskType::Workflow => {
            match serde_path_to_error::deserialize::<_, crate::domain::taskflow::TaskflowDef>(
                spec.definition.clone(),
            ) {
                Err(e) => problems.push(at_path(e.path(), e.inner())),
                Ok(def) => problems.extend(def.problems()),
            }
        }
        other => problems.push(format!(
            "type: {other} tasks are not supported by this version of Sluice yet (MTT, DSS, DRS, DMASK, WORKFLOW and CODE are)"
        )),
    }
    problems
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
fn check_files(spec: &TaskSpec, base: &Path) -> Problems {
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

/// Reads every `*.toml` under `root` as (relative path, content), sorted.
pub fn read_dir_files(root: &Path) -> std::io::Result<Vec<(String, String)>> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out)?;
            } else if path.extension().is_some_and(|e| e == "toml") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, std::fs::read_to_string(&path)?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

impl App {
    /// Loads a definitions directory into the default org. Problems are reported per file and
    /// never stop the server; tasks whose file disappeared since the last load are removed.
    pub async fn load_definitions_dir(&self, root: &Path) -> ApplyReport {
        let files = match read_dir_files(root) {
            Ok(f) => f,
            Err(e) => {
                return ApplyReport {
                    errors: vec![format!("{}: {e}", root.display())],
                    ..Default::default()
                };
            }
        };
        let root_str = root.display().to_string();
        let origin = |rel: &str| Origin::File {
            path: rel.to_string(),
            root: root_str.clone(),
        };
        let mut report = self
            .apply_files(self.default_org, &files, Some(root), &origin, |rel| {
                root.join(rel).display().to_string()
            })
            .await;
        // Prune tasks this directory once defined and no longer does.
        let present: std::collections::BTreeSet<&str> =
            files.iter().map(|(rel, _)| rel.as_str()).collect();
        if let Ok(tasks) = self
            .store
            .list_tasks(self.default_org, &Default::default())
            .await
        {
            for t in tasks {
                if let Origin::File { path, root: r } = &t.origin
                    && *r == root_str
                    && !present.contains(path.as_str())
                {
                    match self.store.delete_task(t.org_id, t.id).await {
                        Ok(()) => report.updated.push(format!("{} (removed)", t.path())),
                        Err(e) => report.errors.push(format!("{}: {e}", t.path())),
                    }
                }
            }
        }
        report
    }

    /// Applies a bundle sent over the API: created and updated objects belong to the caller's org;
    /// relative file paths in them resolve against the data directory.
    pub async fn apply_bundle(&self, org_id: Uuid, bundle: &DefinitionBundle) -> ApplyReport {
        let mut files = Vec::new();
        let mut report = ApplyReport::default();
        for f in &bundle.files {
            if f.path.contains("..") || f.path.starts_with('/') {
                report
                    .errors
                    .push(format!("{}: path: must be relative, without `..`", f.path));
            } else {
                files.push((f.path.clone(), f.content.clone()));
            }
        }
        let applied = self
            .apply_files(org_id, &files, None, &|_| Origin::Api, |rel| {
                rel.to_string()
            })
            .await;
        report.created = applied.created;
        report.updated = applied.updated;
        report.unchanged = applied.unchanged;
        report.errors.extend(applied.errors);
        report
    }

    /// Connections first (tasks may name them), then tasks.
    async fn apply_files(
        &self,
        org_id: Uuid,
        files: &[(String, String)],
        base: Option<&Path>,
        origin: &(dyn Fn(&str) -> Origin + Sync),
        display: impl Fn(&str) -> String,
    ) -> ApplyReport {
        let mut report = ApplyReport::default();
        let mut tasks = Vec::new();
        for (rel, content) in files {
            match parse_file(rel, content) {
                Err(problems) => report.errors.extend(
                    problems
                        .into_iter()
                        .map(|p| format!("{}: {p}", display(rel))),
                ),
                Ok(Parsed::Connection(spec)) => {
                    let label = format!("connection {}", spec.name);
                    match self.put_connection(org_id, spec, origin(rel)).await {
                        Ok(change) => change.record(&mut report, label),
                        Err(e) => report.errors.push(format!("{}: {e}", display(rel))),
                    }
                }
                Ok(Parsed::Task(spec)) => tasks.push((rel, spec)),
            }
        }
        for (rel, spec) in tasks {
            let base_dir = base
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.config.data_dir.clone());
            let problems = check_files(&spec, &base_dir);
            if !problems.is_empty() {
                report.errors.extend(
                    problems
                        .into_iter()
                        .map(|p| format!("{}: {p}", display(rel))),
                );
                continue;
            }
            let label = format!("{}/{}", spec.folder, spec.name);
            match self.put_task(org_id, spec, origin(rel), None).await {
                Ok(change) => change.record(&mut report, label),
                Err(e) => report.errors.push(format!("{}: {e}", display(rel))),
            }
        }
        report
    }

    /// Exports an org's tasks and connections as definition files.
    pub async fn export_definitions(&self, org_id: Uuid) -> Result<DefinitionBundle> {
        let mut files = Vec::new();
        for c in self.store.list_connections(org_id).await? {
            let mut table = toml::Table::new();
            table.insert("kind".into(), "connection".into());
            table.insert("type".into(), c.conn_type.as_str().into());
            if !c.description.is_empty() {
                table.insert("description".into(), c.description.clone().into());
            }
            // Literal secrets stay on the server: an export carries only env references.
            let mut config = c.config.redacted();
            if matches!(config.password, Some(crate::domain::Secret::Value(_))) {
                config.password = None;
            }
            merge_json(
                &mut table,
                &serde_json::to_value(&config).unwrap_or_default(),
            );
            files.push(DefinitionFile {
                path: format!("connections/{}.toml", c.name),
                content: toml::to_string_pretty(&table).unwrap_or_default(),
            });
        }
        for t in self.store.list_tasks(org_id, &Default::default()).await? {
            files.push(DefinitionFile {
                path: format!("{}/{}.toml", t.folder, t.name),
                content: task_to_toml(&t),
            });
        }
        Ok(DefinitionBundle { files })
    }
}

fn merge_json(table: &mut toml::Table, value: &serde_json::Value) {
    if let Ok(toml::Value::Table(t)) = toml::Value::try_from(value) {
        table.extend(t);
    }
}

/// A task written back as its definition file.
pub fn task_to_toml(t: &Task) -> String {
    let mut table = toml::Table::new();
    table.insert("type".into(), t.task_type.code().into());
    if !t.description.is_empty() {
        table.insert("description".into(), t.description.clone().into());
    }
    table.insert("allow_parallel".into(), t.allow_parallel.into());
    if !t.chain.is_empty() {
        let chain: Vec<toml::Value> = t.chain.iter().map(|c| c.clone().into()).collect();
        table.insert("chain".into(), chain.into());
    }
    if !t.parameters.is_empty() {
        let params: toml::Table = t
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), toml::Value::from(v.clone())))
            .collect();
        table.insert("parameters".into(), params.into());
    }
    merge_json(&mut table, &t.definition);
    toml::to_string_pretty(&table).unwrap_or_default()
}

/// What a put did.
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

impl Change {
    fn record(self, report: &mut ApplyReport, label: String) {
        match self {
            Change::Created => report.created.push(label),
            Change::Updated => report.updated.push(label),
            Change::Unchanged => report.unchanged.push(label),
        }
    }
}

impl App {
    /// Creates or replaces the task at `spec`'s folder and name (or, with `id`, that task).
    pub async fn put_task(
        &self,
        org_id: Uuid,
        spec: TaskSpec,
        origin: Origin,
        id: Option<Uuid>,
    ) -> Result<Change> {
        let problems = check_definition(&spec);
        if !problems.is_empty() {
            return Err(ServiceError::InvalidDefinition(problems));
        }
        let existing = match id {
            Some(id) => Some(
                self.store
                    .get_task(org_id, id)
                    .await?
                    .ok_or_else(|| ServiceError::NotFound(format!("task {id} not found")))?,
            ),
            None => {
                self.store
                    .get_task_by_path(org_id, &spec.folder, &spec.name)
                    .await?
            }
        };
        let now = Utc::now();
        let mut task = Task {
            id: match (&existing, &origin) {
                (Some(t), _) => t.id,
                (None, Origin::File { .. }) => ids::file_task_id(org_id, &spec.folder, &spec.name),
                (None, Origin::Api) => Uuid::now_v7(),
            },
            org_id,
            folder: spec.folder,
            name: spec.name,
            task_type: spec.task_type,
            description: spec.description,
            allow_parallel: spec.allow_parallel,
            chain: spec.chain,
            parameters: spec.parameters,
            definition: spec.definition,
            origin,
            created_at: now,
            updated_at: now,
        };
        match existing {
            None => {
                self.store.create_task(&task).await?;
                Ok(Change::Created)
            }
            Some(old) => {
                task.created_at = old.created_at;
                let same = Task {
                    updated_at: old.updated_at,
                    ..task.clone()
                } == old;
                if same {
                    return Ok(Change::Unchanged);
                }
                self.store.update_task(&task).await?;
                Ok(Change::Updated)
            }
        }
    }

    pub async fn put_connection(
        &self,
        org_id: Uuid,
        spec: ConnectionSpec,
        origin: Origin,
    ) -> Result<Change> {
        if let Err(e) = task::validate_name(&spec.name) {
            return Err(ServiceError::Invalid(format!("name: {e}")));
        }
        if let Err((field, msg)) = spec.config.validate(spec.conn_type) {
            return Err(ServiceError::InvalidDefinition(vec![format!(
                "config.{field}: {msg}"
            )]));
        }
        let existing = self
            .store
            .get_connection_by_name(org_id, &spec.name)
            .await?;
        let now = Utc::now();
        let conn = Connection {
            id: existing
                .as_ref()
                .map(|c| c.id)
                .unwrap_or_else(|| match origin {
                    Origin::File { .. } => ids::file_connection_id(org_id, &spec.name),
                    Origin::Api => Uuid::now_v7(),
                }),
            org_id,
            name: spec.name,
            conn_type: spec.conn_type,
            description: spec.description,
            config: spec.config,
            origin,
            created_at: existing.as_ref().map(|c| c.created_at).unwrap_or(now),
            updated_at: now,
        };
        match existing {
            None => {
                self.store.create_connection(&conn).await?;
                Ok(Change::Created)
            }
            Some(old)
                if Connection {
                    updated_at: old.updated_at,
                    ..conn.clone()
                } == old =>
            {
                Ok(Change::Unchanged)
            }
            Some(_) => {
                self.store.update_connection(&conn).await?;
                Ok(Change::Updated)
            }
        }
    }
}

/// Where a task's relative paths resolve.
pub fn base_dir(task: &Task, data_dir: &Path) -> PathBuf {
    match &task.origin {
        Origin::File { root, .. } => PathBuf::from(root),
        Origin::Api => data_dir.to_path_buf(),
    }
}

#[cfg(test)]
#[path = "definitions_tests.rs"]
mod tests;
