//! Files that belong to runs and to callers: parameter files (IICS `parameterFileName`) and the
//! reject files a run leaves (the IICS error log).

use super::{App, Result, ServiceError};
use crate::domain::{Task, param_file};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use uuid::Uuid;

/// Parameter files larger than this are refused (they are a few lines in practice).
const MAX_PARAM_FILE: u64 = 1 << 20;

/// `rel` as a path inside `root`: relative, with no `..`, so a caller cannot read outside it.
fn inside(root: &Path, rel: &str, what: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    let ok = p
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if rel.is_empty() || !ok {
        return Err(ServiceError::Invalid(format!(
            "{what} `{rel}` must be a relative path without `..`"
        )));
    }
    Ok(root.join(p))
}

impl App {
    /// The directory parameter files are read from.
    pub fn parameter_dir(&self) -> PathBuf {
        self.config
            .iics
            .parameter_dir
            .clone()
            .unwrap_or_else(|| self.config.data_dir.join("parameters"))
    }

    /// The parameters a parameter file gives `task`: `file` under `dir` (both relative to the
    /// parameter directory).
    pub async fn parameter_file(
        &self,
        task: &Task,
        dir: Option<&str>,
        file: &str,
    ) -> Result<BTreeMap<String, String>> {
        let root = self.parameter_dir();
        let base = match dir.filter(|d| !d.trim().is_empty()) {
            Some(d) => inside(&root, d.trim().trim_start_matches('/'), "parameterFileDir")?,
            None => root,
        };
        let path = inside(&base, file.trim(), "parameterFileName")?;
        let shown = path.display().to_string();
        let meta = tokio::fs::metadata(&path).await.map_err(|_| {
            ServiceError::Invalid(format!("parameter file `{shown}` was not found"))
        })?;
        if !meta.is_file() || meta.len() > MAX_PARAM_FILE {
            return Err(ServiceError::Invalid(format!(
                "parameter file `{shown}` is not a file of at most 1 MiB"
            )));
        }
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| ServiceError::Invalid(format!("parameter file `{shown}`: {e}")))?;
        param_file::parameters_for(&text, &task.folder, &task.name)
            .map_err(|e| ServiceError::Invalid(format!("parameter file `{shown}`: {e}")))
    }

    /// The reject files of a run, oldest first: one file for a single load, one per table for a
    /// replication (named after the table).
    pub async fn reject_files(&self, run_id: Uuid) -> Vec<(String, PathBuf)> {
        let base = self.config.data_dir.join("rejects");
        let single = base.join(format!("{run_id}.jsonl"));
        let mut out = Vec::new();
        if tokio::fs::metadata(&single)
            .await
            .is_ok_and(|m| m.is_file())
        {
            out.push((format!("{run_id}.jsonl"), single));
        }
        if let Ok(mut dir) = tokio::fs::read_dir(base.join(run_id.to_string())).await {
            let mut tables = Vec::new();
            while let Ok(Some(entry)) = dir.next_entry().await {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".jsonl") {
                    tables.push((name, entry.path()));
                }
            }
            tables.sort();
            out.extend(tables);
        }
        out
    }
}
