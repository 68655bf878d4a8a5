//! Writing definitions back as files: an org's connections (secrets only as env references),
//! schedules and tasks, each as the TOML a person would write.

use super::{App, Result};
use crate::domain::Task;
use sluice_types::{DefinitionBundle, DefinitionFile};
use uuid::Uuid;

impl App {
    /// Exports an org's connections, schedules, blackouts and tasks as definition files.
    pub async fn export_definitions(&self, org_id: Uuid) -> Result<DefinitionBundle> {
        let mut files = Vec::new();
        for c in self.store.list_connections(org_id).await? {
            let mut table = toml::Table::new();
            table.insert("kind".into(), "connection".into());
            table.insert("type".into(), c.conn_type.as_str().into());
            if !c.description.is_empty() {
                table.insert("description".into(), c.description.clone().into());
            }
            // Literal secrets stay on the server: an export carries only env references.
            let mut config = c.config.redacted();
            if matches!(config.password, Some(crate::domain::Secret::Value(_))) {
                config.password = None;
            }
            merge_json(
                &mut table,
                &serde_json::to_value(&config).unwrap_or_default(),
            );
            files.push(DefinitionFile {
                path: format!("connections/{}.toml", c.name),
                content: toml::to_string_pretty(&table).unwrap_or_default(),
            });
        }
        for sch in self.store.find_schedules(org_id, None, None).await? {
            files.push(DefinitionFile {
                path: format!("schedules/{}.toml", sch.name),
                content: schedule_to_toml(&sch),
            });
        }
        for b in self.store.list_blackouts(org_id).await? {
            let mut table = toml::Table::new();
            table.insert("kind".into(), "blackout".into());
            if !b.description.is_empty() {
                table.insert("description".into(), b.description.clone().into());
            }
            table.insert("timezone".into(), b.timezone.clone().into());
            merge_json(
                &mut table,
                &serde_json::to_value(&b.window).unwrap_or_default(),
            );
            files.push(DefinitionFile {
                path: format!("blackouts/{}.toml", b.name),
                content: toml::to_string_pretty(&table).unwrap_or_default(),
            });
        }
        for t in self.store.list_tasks(org_id, &Default::default()).await? {
            files.push(DefinitionFile {
                path: format!("{}/{}.toml", t.folder, t.name),
                content: task_to_toml(&t),
            });
        }
        Ok(DefinitionBundle { files })
    }
}

fn merge_json(table: &mut toml::Table, value: &serde_json::Value) {
    if let Ok(toml::Value::Table(t)) = toml::Value::try_from(value) {
        table.extend(t);
    }
}

/// A task written back as its definition file.
pub fn task_to_toml(t: &Task) -> String {
    let mut table = toml::Table::new();
    table.insert("type".into(), t.task_type.code().into());
    if !t.description.is_empty() {
        table.insert("description".into(), t.description.clone().into());
    }
    table.insert("allow_parallel".into(), t.allow_parallel.into());
    if !t.chain.is_empty() {
        let chain: Vec<toml::Value> = t.chain.iter().map(|c| c.clone().into()).collect();
        table.insert("chain".into(), chain.into());
    }
    if !t.parameters.is_empty() {
        let params: toml::Table = t
            .parameters
            .iter()
            .map(|(k, v)| (k.clone(), toml::Value::from(v.clone())))
            .collect();
        table.insert("parameters".into(), params.into());
    }
    if t.policy.on_busy != crate::domain::task::OnBusy::default() {
        table.insert("on_busy".into(), t.policy.on_busy.as_str().into());
    }
    let retry = &t.policy.retry;
    if retry.retries > 0 {
        table.insert("retries".into(), i64::from(retry.retries).into());
        let delay = i64::try_from(retry.delay_secs).unwrap_or(i64::MAX);
        table.insert("retry_delay_secs".into(), delay.into());
        table.insert("retry_backoff".into(), retry.backoff.into());
    }
    if !t.policy.schedules.is_empty() {
        let schedules = serde_json::to_value(&t.policy.schedules).unwrap_or_default();
        if let Ok(v) = toml::Value::try_from(schedules) {
            table.insert("schedules".into(), v);
        }
    }
    merge_json(&mut table, &t.definition);
    toml::to_string_pretty(&table).unwrap_or_default()
}

/// A schedule written back as its definition file.
pub fn schedule_to_toml(s: &crate::domain::schedule::Schedule) -> String {
    use crate::domain::schedule::Rule;
    let mut table = toml::Table::new();
    table.insert("kind".into(), "schedule".into());
    if !s.description.is_empty() {
        table.insert("description".into(), s.description.clone().into());
    }
    table.insert("timezone".into(), s.timezone.clone().into());
    match &s.rule {
        Rule::Cron(c) => {
            table.insert("cron".into(), c.clone().into());
        }
        Rule::Frequency(f) => merge_json(&mut table, &serde_json::to_value(f).unwrap_or_default()),
    }
    table.insert("catch_up".into(), s.catch_up.as_str().into());
    let window = i64::try_from(s.catch_up_window_secs).unwrap_or(i64::MAX);
    table.insert("catch_up_window_secs".into(), window.into());
    if s.paused {
        table.insert("paused".into(), true.into());
    }
    toml::to_string_pretty(&table).unwrap_or_default()
}
