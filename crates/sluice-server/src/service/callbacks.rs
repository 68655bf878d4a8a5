//! A run's callbacks as callers see them, and sending one again.

use super::{App, Principal, Result, ServiceError};
use crate::domain::Role;
use crate::store::{Attempt, Callback};
use chrono::Utc;
use uuid::Uuid;

impl App {
    /// The callbacks of a run of the org, each with its attempts.
    pub async fn run_callbacks(
        &self,
        org_id: Uuid,
        run_id: Uuid,
    ) -> Result<Vec<(Callback, Vec<Attempt>)>> {
        let run = self.get_run(org_id, run_id).await?;
        Ok(self.store.list_callbacks(run.id).await?)
    }

    /// Sends a callback of a run again, now, with a new round of the schedule.
    pub async fn resend_callback(
        &self,
        who: &Principal,
        run_id: Uuid,
        id: Uuid,
    ) -> Result<Callback> {
        who.require(Role::Operator)?;
        let run = self.get_run(who.org_id(), run_id).await?;
        let not_found =
            || ServiceError::NotFound(format!("callback {id} of run {run_id} not found"));
        let cb = self.store.get_callback(id).await?.ok_or_else(not_found)?;
        if cb.run_id != run.id {
            return Err(not_found());
        }
        let cb = self.store.resend_callback(id, Utc::now()).await?;
        self.events.callback_queued();
        Ok(cb)
    }
}
