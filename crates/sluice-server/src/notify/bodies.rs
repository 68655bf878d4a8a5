//! What a callback says: each HTTP surface renders the body for the runs it started (IICS its
//! `callbackUrlResponse`, Starfish its `execJobResponse`, the native API its run view) and
//! registers that with the notifier at start-up, so delivery knows no surface.

use crate::domain::{Run, Trigger};
use async_trait::async_trait;
use std::sync::Arc;

/// Renders the callback body of a run.
#[async_trait]
pub trait CallbackBody: Send + Sync + 'static {
    async fn render(&self, run: &Run) -> Result<serde_json::Value, String>;
}

/// The renderers by the trigger of the run; runs no surface claimed get the fallback's body.
#[derive(Clone)]
pub struct Bodies {
    fallback: Arc<dyn CallbackBody>,
    by_trigger: Vec<(Trigger, Arc<dyn CallbackBody>)>,
}

impl Bodies {
    pub fn new(fallback: Arc<dyn CallbackBody>) -> Bodies {
        Bodies {
            fallback,
            by_trigger: Vec::new(),
        }
    }

    /// Runs started by `trigger` get `body`'s rendering (the last registration wins).
    pub fn register(&mut self, trigger: Trigger, body: Arc<dyn CallbackBody>) {
        self.by_trigger.retain(|(t, _)| *t != trigger);
        self.by_trigger.push((trigger, body));
    }

    pub async fn render(&self, run: &Run) -> Result<serde_json::Value, String> {
        let renderer = self
            .by_trigger
            .iter()
            .find(|(t, _)| *t == run.trigger)
            .map_or(&self.fallback, |(_, b)| b);
        renderer.render(run).await
    }
}
