//! Definition files: one TOML file per task or connection, folders as directories. Loading a
//! directory, applying a bundle sent over the API (every problem reported as
//! `<file>: <field>: <message>`), and exporting back to files; reading one file is
//! [`super::definition_files`], checking a task [`super::task_checks`].

pub use super::Change;
pub use super::definition_export::{schedule_to_toml, task_to_toml};
pub use super::definition_files::{ConnectionSpec, Parsed, Problems, TaskSpec, parse_file};
pub use super::task_checks::check_definition;
use super::task_checks::check_files;
use super::{App, Principal, Result, ServiceError};
use crate::domain::audit::AuditAction;
use crate::domain::identity::org_area;
use crate::domain::task;
use crate::domain::{Connection, Origin, Role, Task, ids};
use crate::store::StoreError;
use chrono::Utc;
use sluice_types::{ApplyReport, DefinitionBundle};
use std::path::Path;
use uuid::Uuid;

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
        let operator = Principal::operator(self.default_org, crate::domain::identity::DEFAULT_ORG);
        let mut report = self
            .apply_files(&operator, &files, Some(root), &origin, |rel| {
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
        self.prune_schedules(&root_str, &present, &mut report).await;
        report
    }

    /// Deletes schedules a directory once defined and no longer does.
    async fn prune_schedules(
        &self,
        root: &str,
        present: &std::collections::BTreeSet<&str>,
        report: &mut ApplyReport,
    ) {
        let Ok(schedules) = self
            .store
            .find_schedules(self.default_org, None, None)
            .await
        else {
            return;
        };
        for s in schedules {
            if let Origin::File { path, root: r } = &s.origin
                && r == root
                && !present.contains(path.as_str())
            {
                match self.store.delete_schedule(s.org_id, s.id).await {
                    Ok(()) => report
                        .updated
                        .push(format!("schedule {} (removed)", s.name)),
                    Err(e) => report.errors.push(format!("schedule {}: {e}", s.name)),
                }
            }
        }
    }

    /// Applies a bundle sent over the API: created and updated objects belong to the caller's org;
    /// relative file paths in them resolve against the org's file area.
    pub async fn apply_bundle(&self, who: &Principal, bundle: &DefinitionBundle) -> ApplyReport {
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
            .apply_files(who, &files, None, &|_| Origin::Api, |rel| rel.to_string())
            .await;
        report.created = applied.created;
        report.updated = applied.updated;
        report.unchanged = applied.unchanged;
        report.errors.extend(applied.errors);
        report
    }

    /// Connections and schedules first (tasks name them), then tasks.
    async fn apply_files(
        &self,
        who: &Principal,
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
                    match self.put_connection(who, spec, origin(rel)).await {
                        Ok(change) => change.record(&mut report, label),
                        Err(e) => report.errors.push(format!("{}: {e}", display(rel))),
                    }
                }
                Ok(Parsed::Schedule(spec)) => {
                    let label = format!("schedule {}", spec.name);
                    match self.put_schedule(who, spec, origin(rel), None).await {
                        Ok((change, _)) => change.record(&mut report, label),
                        Err(e) => report.errors.push(format!("{}: {e}", display(rel))),
                    }
                }
                Ok(Parsed::Blackout(input)) => {
                    let label = format!("blackout {}", input.name);
                    match self.put_blackout(who, input, origin(rel)).await {
                        Ok(_) => report.updated.push(label),
                        Err(e) => report.errors.push(format!("{}: {e}", display(rel))),
                    }
                }
                Ok(Parsed::Task(spec)) => tasks.push((rel, spec)),
            }
        }
        for (rel, spec) in tasks {
            let base_dir = base
                .map(Path::to_path_buf)
                .unwrap_or_else(|| org_area(&self.config.data_dir, who.org_id()));
            let problems = check_files(&spec, &base_dir, base.is_some());
            if !problems.is_empty() {
                report.errors.extend(
                    problems
                        .into_iter()
                        .map(|p| format!("{}: {p}", display(rel))),
                );
                continue;
            }
            let label = format!("{}/{}", spec.folder, spec.name);
            match self.put_task(who, spec, origin(rel), None).await {
                Ok(change) => change.record(&mut report, label),
                Err(e) => report.errors.push(format!("{}: {e}", display(rel))),
            }
        }
        report
    }
}

impl App {
    /// Creates or replaces the task at `spec`'s folder and name (or, with `id`, that task).
    pub async fn put_task(
        &self,
        who: &Principal,
        spec: TaskSpec,
        origin: Origin,
        id: Option<Uuid>,
    ) -> Result<Change> {
        who.require(Role::Designer)?;
        let org_id = who.org_id();
        let mut problems = check_definition(&spec);
        problems.extend(super::task_checks::check_code_environment(
            &spec,
            &self.config.runtime_environments,
            origin == Origin::Api,
            &who.org_name,
        ));
        if origin == Origin::Api {
            problems.extend(super::task_checks::check_api_paths(&spec));
        }
        if !problems.is_empty() {
            return Err(ServiceError::InvalidDefinition(problems));
        }
        self.check_bindings(org_id, &spec.policy.schedules).await?;
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
            policy: spec.policy,
            origin,
            created_at: now,
            updated_at: now,
        };
        match existing {
            None => match self.store.create_task(&task).await {
                Ok(()) => Ok(Change::Created),
                // Another node loading the same directory at once created it first, from the
                // same file: the result is the one a single node would have left.
                Err(StoreError::NameTaken(_)) if task.origin != Origin::Api => {
                    Ok(Change::Unchanged)
                }
                Err(e) => Err(e.into()),
            },
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
        who: &Principal,
        spec: ConnectionSpec,
        origin: Origin,
    ) -> Result<Change> {
        who.require(Role::Admin)?;
        let org_id = who.org_id();
        if let Err(e) = task::validate_name(&spec.name) {
            return Err(ServiceError::Invalid(format!("name: {e}")));
        }
        if let Err((field, msg)) = spec.config.validate(spec.conn_type) {
            return Err(ServiceError::InvalidDefinition(vec![format!(
                "config.{field}: {msg}"
            )]));
        }
        if origin == Origin::Api {
            let grants = self
                .config
                .orgs
                .get(&who.org_name)
                .cloned()
                .unwrap_or_default();
            let problems = grants.connection_problems(spec.conn_type, &spec.config);
            if !problems.is_empty() {
                return Err(ServiceError::InvalidDefinition(problems));
            }
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
        let (change, action) = match existing {
            None => match self.store.create_connection(&conn).await {
                Ok(()) => (Change::Created, AuditAction::ConnectionCreate),
                // As with tasks: another node made it first from the same file.
                Err(StoreError::NameTaken(_)) if conn.origin != Origin::Api => {
                    return Ok(Change::Unchanged);
                }
                Err(e) => return Err(e.into()),
            },
            Some(old)
                if Connection {
                    updated_at: old.updated_at,
                    ..conn.clone()
                } == old =>
            {
                return Ok(Change::Unchanged);
            }
            Some(_) => {
                self.store.update_connection(&conn).await?;
                (Change::Updated, AuditAction::ConnectionUpdate)
            }
        };
        // The type and where it came from; never the configuration, which holds secrets.
        let from = match &conn.origin {
            Origin::File { path, .. } => format!(" from definition file {path}"),
            Origin::Api => String::new(),
        };
        let detail = format!("type {}{from}", conn.conn_type);
        self.audit_change(who, org_id, action, &conn.name, detail)
            .await;
        Ok(change)
    }
}

#[cfg(test)]
#[path = "definitions_tests.rs"]
mod tests;
