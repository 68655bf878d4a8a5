//! The audit log: writing an event (each operation writes its own, once, here in the service,
//! whatever surface called it) and reading the log (Admins: their org's events; the default
//! org's Admins: every org's).
//!
//! Runtime environments and org grants are configuration only (`[runtime_environments]`,
//! `[orgs]`): no API changes them, so their changes are in the config file's history, not here.

use super::{App, Principal, Result};
use crate::domain::Role;
use crate::domain::audit::{AuditAction, AuditEvent, AuditOutcome, bounded};
use crate::store::AuditFilter;
use chrono::Utc;
use uuid::Uuid;

impl App {
    /// Keeps an event. A store that cannot keep it is logged, not raised: the operation it
    /// records has happened, and failing it now would not undo it.
    pub(super) async fn audit(&self, event: AuditEvent) {
        if let Err(e) = self.store.append_audit(&event).await {
            tracing::error!(
                error = %e,
                action = %event.action,
                actor = %event.actor,
                target = %event.target,
                "the audit log could not keep an event"
            );
        }
    }

    /// Keeps a change `who` made to `target` in `org_id`.
    pub(super) async fn audit_change(
        &self,
        who: &Principal,
        org_id: Uuid,
        action: AuditAction,
        target: &str,
        detail: String,
    ) {
        self.audit(AuditEvent {
            at: Utc::now(),
            org_id: Some(org_id),
            actor: bounded(&who.user.username),
            action,
            target: bounded(target),
            client_addr: who.client.addr,
            surface: who.client.surface,
            outcome: AuditOutcome::Success,
            detail,
        })
        .await;
    }

    /// The events `who` may read that match `filter`, newest first, each with its number. An
    /// Admin reads their org's events; an Admin of the default org reads every org's, and those
    /// of no org (sign-ins as user names nobody has).
    pub async fn list_audit(
        &self,
        who: &Principal,
        filter: AuditFilter,
    ) -> Result<Vec<(i64, AuditEvent)>> {
        who.require(Role::Admin)?;
        let every_org = who.org_id() == self.default_org;
        let filter = AuditFilter {
            org_id: (!every_org).then(|| who.org_id()),
            ..filter
        };
        Ok(self.store.list_audit(&filter).await?)
    }
}
