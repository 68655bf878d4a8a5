//! Files that belong to runs and to callers: parameter files (IICS `parameterFileName`) and the
//! reject files a run leaves (the IICS error log, kept in the store).

use super::{App, Result, ServiceError};
use crate::domain::{Task, param_file};
use bytes::Bytes;
use futures::{Stream, StreamExt};
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

    /// A run's reject files as the store keeps them (whichever node ran the load): names in the
    /// order they are served, each with its number of chunks.
    pub async fn reject_files(&self, run_id: Uuid) -> Result<Vec<(String, i64)>> {
        Ok(self.store.list_run_files(run_id).await?)
    }

    /// The bytes of `files` of a run, one file after another, read from the store a chunk at a
    /// time (never a whole file in memory).
    pub fn reject_bytes(
        &self,
        run_id: Uuid,
        files: Vec<(String, i64)>,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let store = self.store.clone();
        let chunks = files
            .into_iter()
            .flat_map(|(name, n)| (0..n).map(move |i| (name.clone(), i)));
        futures::stream::iter(chunks).then(move |(name, i)| {
            let store = store.clone();
            async move {
                match store.read_run_file_chunk(run_id, &name, i).await {
                    Ok(data) => Ok(Bytes::from(data.unwrap_or_default())),
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                }
            }
        })
    }
}
