//! The reject files a run wrote on this node's disk, moved into the store before its end is
//! recorded: a client that sees the run ended can read them through any node.

use crate::store::Store;
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;
use uuid::Uuid;

/// Bytes per stored chunk: a chunk is read, kept and served whole.
const CHUNK: usize = 1 << 20;

/// Moves the run's reject files into the store; a file is deleted only once all of it is kept.
pub(super) async fn keep_rejects(store: &dyn Store, data_dir: &Path, run: Uuid) {
    for (name, path) in local_rejects(data_dir, run).await {
        match keep(store, run, &name, &path).await {
            Ok(()) => {
                let _ = tokio::fs::remove_file(&path).await;
            }
            Err(e) => tracing::error!(run = %run, file = %path.display(), "keeping rejects: {e}"),
        }
    }
    let _ = tokio::fs::remove_dir(data_dir.join("rejects").join(run.to_string())).await;
}

async fn keep(store: &dyn Store, run: Uuid, name: &str, path: &Path) -> anyhow::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut chunk = 0i64;
    loop {
        let mut buf = Vec::with_capacity(CHUNK);
        (&mut file).take(CHUNK as u64).read_to_end(&mut buf).await?;
        if buf.is_empty() {
            return Ok(());
        }
        store.put_run_file_chunk(run, name, chunk, &buf).await?;
        chunk += 1;
    }
}

/// The run's reject files on this disk, by the name they are kept under: `rejects.jsonl` for a
/// single load, `rejects/<table>.jsonl` for each table of a replication.
async fn local_rejects(data_dir: &Path, run: Uuid) -> Vec<(String, PathBuf)> {
    let base = data_dir.join("rejects");
    let mut out = Vec::new();
    let single = base.join(format!("{run}.jsonl"));
    if tokio::fs::metadata(&single)
        .await
        .is_ok_and(|m| m.is_file())
    {
        out.push(("rejects.jsonl".to_string(), single));
    }
    if let Ok(mut dir) = tokio::fs::read_dir(base.join(run.to_string())).await {
        while let Ok(Some(entry)) = dir.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".jsonl") {
                out.push((format!("rejects/{name}"), entry.path()));
            }
        }
    }
    out.sort();
    out
}
