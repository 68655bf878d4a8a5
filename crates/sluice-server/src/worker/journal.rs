//! The engine's [`Journal`] for one run, kept in the store: its children and its task's
//! high-water marks.

use crate::domain::RunChild;
use crate::engine::journal::{ChildReport, Journal};
use crate::store::Store;
use async_trait::async_trait;
use std::sync::Arc;
use uuid::Uuid;

pub struct StoreJournal {
    pub store: Arc<dyn Store>,
    pub task_id: Uuid,
    pub run_id: Uuid,
}

impl std::fmt::Debug for StoreJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreJournal(run {})", self.run_id)
    }
}

#[async_trait]
impl Journal for StoreJournal {
    async fn watermark(&self, object: &str) -> Result<Option<String>, String> {
        self.store
            .get_watermark(self.task_id, object)
            .await
            .map_err(|e| e.to_string())
    }

    async fn set_watermark(&self, object: &str, value: &str) -> Result<(), String> {
        self.store
            .set_watermark(self.task_id, object, value, self.run_id)
            .await
            .map_err(|e| e.to_string())
    }

    async fn child(&self, c: &ChildReport) -> Result<(), String> {
        let child = RunChild {
            run_id: self.run_id,
            seq: c.seq,
            name: c.name.clone(),
            state: c.state,
            started_at: c.started_at,
            ended_at: c.ended_at,
            counters: c.counters,
            error: c.error.clone(),
        };
        self.store
            .put_run_child(&child)
            .await
            .map_err(|e| e.to_string())
    }
}
