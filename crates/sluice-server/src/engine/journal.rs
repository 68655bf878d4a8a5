//! What a run records besides counters and its log: the children of a run (one per replicated
//! table), the high-water marks incremental replication keeps between runs, and the progress of
//! a code task's Spark application. The worker backs
//! it with the store; tests use [`MemoryJournal`].

use crate::domain::spark::SparkProgress;
use crate::domain::{Counters, RunState};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One child of a run as the engine reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildReport {
    /// 1-based position among the run's children.
    pub seq: i32,
    pub name: String,
    pub state: RunState,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub counters: Counters,
    pub error: Option<String>,
}

#[async_trait]
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// The high-water mark kept for `object` of this run's task.
    async fn watermark(&self, object: &str) -> Result<Option<String>, String>;
    /// Keeps a new high-water mark (after the rows up to it were committed).
    async fn set_watermark(&self, object: &str, value: &str) -> Result<(), String>;
    /// Records a child's state; failures are logged, not fatal (the data is already committed).
    async fn child(&self, child: &ChildReport) -> Result<(), String>;
    /// Records the Spark application's progress; failures are logged, not fatal.
    async fn spark(&self, progress: &SparkProgress) -> Result<(), String>;
}

/// A journal in memory (tests, and runs that need none).
#[derive(Debug, Default)]
pub struct MemoryJournal {
    pub watermarks: Mutex<BTreeMap<String, String>>,
    pub children: Mutex<BTreeMap<i32, ChildReport>>,
    pub spark: Mutex<Option<SparkProgress>>,
}

#[async_trait]
impl Journal for MemoryJournal {
    async fn watermark(&self, object: &str) -> Result<Option<String>, String> {
        Ok(self
            .watermarks
            .lock()
            .expect("not poisoned")
            .get(object)
            .cloned())
    }
    async fn set_watermark(&self, object: &str, value: &str) -> Result<(), String> {
        self.watermarks
            .lock()
            .expect("not poisoned")
            .insert(object.to_string(), value.to_string());
        Ok(())
    }
    async fn child(&self, child: &ChildReport) -> Result<(), String> {
        self.children
            .lock()
            .expect("not poisoned")
            .insert(child.seq, child.clone());
        Ok(())
    }
    async fn spark(&self, progress: &SparkProgress) -> Result<(), String> {
        *self.spark.lock().expect("not poisoned") = Some(progress.clone());
        Ok(())
    }
}
