//! The engine's [`Journal`] for one run, kept in the store: its children, its task's high-water
//! marks and its Spark application's progress.

use crate::domain::RunChild;
use crate::domain::spark::SparkProgress;
use crate::engine::journal::{ChildReport, Journal};
use crate::store::Store;
use async_trait::async_trait;
use std::sync::Arc;
use uuid::Uuid;

pub struct StoreJournal {
    pub store: Arc<dyn Store>,
    pub task_id: Uuid,
    pub run_id: Uuid,
    /// The node holding the run: only its writes are kept.
    pub node: String,
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
            task_id: None,
            child_run_id: None,
        };
        self.store
            .put_run_child(&child)
            .await
            .map_err(|e| e.to_string())
    }

    async fn spark(&self, progress: &SparkProgress) -> Result<(), String> {
        self.store
            .set_spark_progress(self.run_id, &self.node, progress)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
