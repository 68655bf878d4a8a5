//! Blackout periods: defining them (definition files and the native API share one check) and
//! listing them. What a blackout holds is `domain::blackout`'s; the firing pass skips fires
//! inside one.

use super::{App, Principal, Result, ServiceError};
use crate::domain::blackout::{Blackout, Window};
use crate::domain::task;
use crate::domain::{Origin, Role};
use chrono::Utc;
use sluice_types::BlackoutInput;
use uuid::Uuid;

/// Reads a blackout's fields, every problem as `field: message`.
pub fn check_input(input: &BlackoutInput) -> std::result::Result<Window, Vec<String>> {
    let mut problems = Vec::new();
    if let Err(e) = task::validate_name(&input.name) {
        problems.push(format!("name: {e}"));
    }
    let zone = input.timezone.as_deref().unwrap_or("UTC");
    if zone.parse::<chrono_tz::Tz>().is_err() {
        problems.push(format!("timezone: `{zone}` is not an IANA time zone"));
    }
    let mut fields = serde_json::Map::new();
    for (key, value) in [
        ("start", &input.start),
        ("end", &input.end),
        ("from_time", &input.from_time),
        ("to_time", &input.to_time),
    ] {
        if let Some(v) = value {
            fields.insert(key.into(), serde_json::json!(v));
        }
    }
    if let Some(days) = &input.days {
        fields.insert("days".into(), serde_json::json!(days));
    }
    let window = match serde_json::from_value::<Window>(serde_json::Value::Object(fields)) {
        Ok(w) => Some(w),
        Err(_) => {
            problems.push(
                "window: give `start` and `end` (2026-12-24T00:00:00), or `from_time` and \
                 `to_time` (01:00) with optional `days`"
                    .into(),
            );
            None
        }
    };
    if let Some(Err(e)) = window.as_ref().map(Window::check) {
        problems.push(e);
    }
    match window {
        Some(w) if problems.is_empty() => Ok(w),
        _ => Err(problems),
    }
}

impl App {
    /// Creates or replaces the blackout named in `input` (Admins: it holds every schedule of
    /// the org).
    pub async fn put_blackout(
        &self,
        who: &Principal,
        input: BlackoutInput,
        origin: Origin,
    ) -> Result<Blackout> {
        who.require(Role::Admin)?;
        let window = check_input(&input).map_err(ServiceError::InvalidDefinition)?;
        let existing = self.blackout_named(who.org_id(), &input.name).await.ok();
        let now = Utc::now();
        let blackout = Blackout {
            id: existing.as_ref().map(|b| b.id).unwrap_or_else(Uuid::now_v7),
            org_id: who.org_id(),
            name: input.name,
            description: input.description.unwrap_or_default(),
            timezone: input.timezone.unwrap_or_else(|| "UTC".into()),
            window,
            origin,
            created_at: existing.as_ref().map(|b| b.created_at).unwrap_or(now),
            updated_at: now,
        };
        self.store.put_blackout(&blackout).await?;
        Ok(blackout)
    }

    pub async fn list_blackouts(&self, org_id: Uuid) -> Result<Vec<Blackout>> {
        Ok(self.store.list_blackouts(org_id).await?)
    }

    pub async fn blackout_named(&self, org_id: Uuid, name: &str) -> Result<Blackout> {
        self.list_blackouts(org_id)
            .await?
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| ServiceError::NotFound(format!("blackout `{name}` not found")))
    }

    pub async fn delete_blackout(&self, who: &Principal, name: &str) -> Result<()> {
        who.require(Role::Admin)?;
        let found = self.blackout_named(who.org_id(), name).await?;
        Ok(self.store.delete_blackout(who.org_id(), found.id).await?)
    }
}
