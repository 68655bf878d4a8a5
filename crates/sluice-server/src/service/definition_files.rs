//! Reading one definition file: TOML into a task or connection as written by people, every
//! problem reported as `field: message`.

use super::at_path;
use super::schedules::ScheduleSpec;
use super::task_checks::check_definition;
use crate::domain::task::{self, DEFAULT_FOLDER, OnBusy, RetryPolicy, RunPolicy};
use crate::domain::{ConnectionConfig, ConnectionType, TaskType};
use std::collections::BTreeMap;

/// A task as written by people, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub folder: String,
    pub name: String,
    pub task_type: TaskType,
    pub description: String,
    pub allow_parallel: bool,
    pub chain: Vec<String>,
    pub parameters: BTreeMap<String, String>,
    pub definition: serde_json::Value,
    pub policy: RunPolicy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionSpec {
    pub name: String,
    pub conn_type: ConnectionType,
    pub description: String,
    pub config: ConnectionConfig,
}

#[derive(Debug, Clone)]
pub enum Parsed {
    Task(TaskSpec),
    Connection(ConnectionSpec),
    Schedule(ScheduleSpec),
    Blackout(sluice_types::BlackoutInput),
}

/// `field: message` problems of one object.
pub type Problems = Vec<String>;

fn take_string(table: &mut toml::Table, key: &str, problems: &mut Problems) -> Option<String> {
    match table.remove(key) {
        None => None,
        Some(toml::Value::String(s)) => Some(s),
        Some(other) => {
            problems.push(format!(
                "{key}: expected a string, found {}",
                other.type_str()
            ));
            None
        }
    }
}

/// Parses one definition file. `rel_path` (`/`-separated, relative to the definitions root) gives
/// the folder and the name.
pub fn parse_file(rel_path: &str, content: &str) -> Result<Parsed, Problems> {
    let rel = rel_path.trim_start_matches("./");
    let Some(stem) = rel.strip_suffix(".toml") else {
        return Err(vec!["path: definition files end in `.toml`".into()]);
    };
    let (folder, name) = match stem.rsplit_once('/') {
        Some((folder, name)) => (folder.to_string(), name.to_string()),
        None => (DEFAULT_FOLDER.to_string(), stem.to_string()),
    };
    let mut problems = Problems::new();
    if let Err(e) = task::validate_folder(&folder) {
        problems.push(format!("folder: {e}"));
    }
    if let Err(e) = task::validate_name(&name) {
        problems.push(format!("name: {e}"));
    }
    let mut table: toml::Table = match toml::from_str(content) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("toml: {}", e.message()));
            return Err(problems);
        }
    };
    let kind = take_string(&mut table, "kind", &mut problems).unwrap_or_else(|| "task".into());
    let type_name = take_string(&mut table, "type", &mut problems);
    let description = take_string(&mut table, "description", &mut problems).unwrap_or_default();
    let rest = serde_json::to_value(&table).unwrap_or_default();
    let parsed = match kind.as_str() {
        "task" => {
            parse_task(folder, name, type_name, description, rest, &mut problems).map(Parsed::Task)
        }
        "connection" => parse_connection(name, type_name, description, rest, &mut problems)
            .map(Parsed::Connection),
        "schedule" => {
            parse_schedule(name, type_name, description, rest, &mut problems).map(Parsed::Schedule)
        }
        "blackout" => parse_blackout(name, description, rest, &mut problems).map(Parsed::Blackout),
        other => {
            problems.push(format!(
                "kind: `{other}` is not `task`, `connection`, `schedule` or `blackout`"
            ));
            None
        }
    };
    match parsed {
        Some(p) if problems.is_empty() => Ok(p),
        _ => Err(problems),
    }
}

fn parse_task(
    folder: String,
    name: String,
    type_name: Option<String>,
    description: String,
    mut rest: serde_json::Value,
    problems: &mut Problems,
) -> Option<TaskSpec> {
    let Some(type_name) = type_name else {
        problems.push("type: missing (MTT, DSS, DRS, DMASK, PCS, WORKFLOW or CODE)".into());
        return None;
    };
    let task_type = match type_name.parse::<TaskType>() {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("type: {e}"));
            return None;
        }
    };
    let obj = rest.as_object_mut().expect("a TOML table is an object");
    let allow_parallel = match obj.remove("allow_parallel") {
        None => false,
        Some(serde_json::Value::Bool(b)) => b,
        Some(_) => {
            problems.push("allow_parallel: expected true or false".into());
            false
        }
    };
    let chain = match obj.remove("chain") {
        None => Vec::new(),
        Some(v) => match serde_json::from_value::<Vec<String>>(v) {
            Ok(c) if c.iter().all(|t| !t.trim().is_empty()) => c,
            _ => {
                problems.push("chain: expected a list of task names (`folder/name`)".into());
                Vec::new()
            }
        },
    };
    let parameters = match obj.remove("parameters") {
        None => BTreeMap::new(),
        Some(v) => match serde_json::from_value::<BTreeMap<String, String>>(v) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("parameters: {e} (values are strings)"));
                BTreeMap::new()
            }
        },
    };
    let schedules = match obj.remove("schedules") {
        None => Vec::new(),
        Some(v) => match serde_json::from_value(v)
            .map_err(|_| {
                "schedules: expected a list of schedule names or `{ schedule = \"name\", parameters = { ... } }`"
                    .to_string()
            })
            .and_then(super::schedules::bindings)
        {
            Ok(b) => b,
            Err(e) => {
                problems.push(e);
                Vec::new()
            }
        },
    };
    let (on_busy, retry) = run_policy_fields(obj, problems);
    let spec = TaskSpec {
        folder,
        name,
        task_type,
        description,
        allow_parallel,
        chain,
        parameters,
        definition: rest,
        policy: RunPolicy {
            schedules,
            on_busy,
            retry,
        },
    };
    problems.extend(check_definition(&spec));
    Some(spec)
}

fn parse_connection(
    name: String,
    type_name: Option<String>,
    description: String,
    rest: serde_json::Value,
    problems: &mut Problems,
) -> Option<ConnectionSpec> {
    let conn_type = match type_name.map(|t| t.parse::<ConnectionType>()) {
        None => {
            problems.push("type: missing (files, postgres, mysql or sqlite)".into());
            return None;
        }
        Some(Err(e)) => {
            problems.push(format!("type: {e}"));
            return None;
        }
        Some(Ok(t)) => t,
    };
    let config: ConnectionConfig = match serde_path_to_error::deserialize(rest) {
        Ok(c) => c,
        Err(e) => {
            problems.push(at_path(e.path(), e.inner()));
            return None;
        }
    };
    if let Err((field, msg)) = config.validate(conn_type) {
        problems.push(format!("{field}: {msg}"));
    }
    Some(ConnectionSpec {
        name,
        conn_type,
        description,
        config,
    })
}

/// A task's `on_busy`, `retries`, `retry_delay_secs` and `retry_backoff`.
fn run_policy_fields(
    obj: &mut serde_json::Map<String, serde_json::Value>,
    problems: &mut Problems,
) -> (OnBusy, RetryPolicy) {
    let on_busy = match obj.remove("on_busy") {
        None => OnBusy::default(),
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or_else(|e| {
            problems.push(format!("on_busy: {e}"));
            OnBusy::default()
        }),
        Some(_) => {
            problems.push("on_busy: expected refuse, queue, cancel_previous or skip".into());
            OnBusy::default()
        }
    };
    let mut retry = RetryPolicy::default();
    let mut number = |key: &str, problems: &mut Problems| match obj.remove(key) {
        None => None,
        Some(v) => match v.as_f64() {
            Some(n) if n >= 0.0 => Some(n),
            _ => {
                problems.push(format!("{key}: expected a number, 0 or more"));
                None
            }
        },
    };
    if let Some(n) = number("retries", problems) {
        retry.retries = n.min(f64::from(u32::MAX)) as u32;
    }
    if let Some(n) = number("retry_delay_secs", problems) {
        retry.delay_secs = n.min(u64::MAX as f64) as u64;
    }
    if let Some(n) = number("retry_backoff", problems) {
        retry.backoff = n;
    }
    if let Err(e) = retry.check() {
        problems.push(e);
    }
    (on_busy, retry)
}

/// A blackout file: `timezone`, and `start` and `end`, or `from_time`, `to_time` and `days`.
fn parse_blackout(
    name: String,
    description: String,
    rest: serde_json::Value,
    problems: &mut Problems,
) -> Option<sluice_types::BlackoutInput> {
    let serde_json::Value::Object(mut fields) = rest else {
        return None;
    };
    // An unquoted TOML date-time arrives as the toml crate's private one-key table.
    let mut text = |key: &str, problems: &mut Problems| match fields.remove(key) {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Object(o)) if o.len() == 1 => o
            .values()
            .next()
            .and_then(|v| v.as_str())
            .map(str::to_string),
        Some(_) => {
            problems.push(format!("{key}: expected a date-time or a time"));
            None
        }
    };
    let mut input = sluice_types::BlackoutInput {
        name,
        description: Some(description),
        ..Default::default()
    };
    input.timezone = text("timezone", problems);
    input.start = text("start", problems);
    input.end = text("end", problems);
    input.from_time = text("from_time", problems);
    input.to_time = text("to_time", problems);
    if let Some(days) = fields.remove("days") {
        match serde_json::from_value(days) {
            Ok(d) => input.days = Some(d),
            Err(_) => problems.push("days: expected a list of days (`mon`, `tue`, ...)".into()),
        }
    }
    for key in fields.keys() {
        problems.push(format!("{key}: unknown field of a blackout"));
    }
    match super::blackouts::check_input(&input) {
        Ok(_) => Some(input),
        Err(found) => {
            problems.extend(found);
            None
        }
    }
}

/// A schedule file: `timezone`, `cron` or the frequency fields, `catch_up`,
/// `catch_up_window_secs`, `paused`; every other field is a frequency's.
fn parse_schedule(
    name: String,
    type_name: Option<String>,
    description: String,
    rest: serde_json::Value,
    problems: &mut Problems,
) -> Option<ScheduleSpec> {
    if type_name.is_some() {
        problems.push("type: a schedule has no type".into());
    }
    let serde_json::Value::Object(mut fields) = rest else {
        return None;
    };
    let mut input = sluice_types::ScheduleInput {
        name,
        description: Some(description),
        ..Default::default()
    };
    let mut take = |key: &str| fields.remove(key);
    let text = |v: Option<serde_json::Value>, key: &str, problems: &mut Problems| match v {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(_) => {
            problems.push(format!("{key}: expected a string"));
            None
        }
    };
    input.timezone = text(take("timezone"), "timezone", problems);
    input.cron = text(take("cron"), "cron", problems);
    input.catch_up = text(take("catch_up"), "catch_up", problems);
    match take("catch_up_window_secs").map(|v| v.as_u64().ok_or(())) {
        None => {}
        Some(Ok(n)) => input.catch_up_window_secs = Some(n),
        Some(Err(())) => problems.push("catch_up_window_secs: expected a whole number".into()),
    }
    match take("paused") {
        None => {}
        Some(serde_json::Value::Bool(b)) => input.paused = Some(b),
        Some(_) => problems.push("paused: expected true or false".into()),
    }
    if input.cron.is_some() {
        // A cron schedule has no other fields: a leftover is a mistake, said as one.
        for key in fields.keys() {
            problems.push(format!(
                "{key}: unknown field of a cron schedule (timezone, cron, catch_up, \
                 catch_up_window_secs, paused, description)"
            ));
        }
    } else if !fields.is_empty() {
        input.frequency = Some(serde_json::Value::Object(fields));
    }
    match super::schedules::spec_from_input(input) {
        Ok(spec) => Some(spec),
        Err(found) => {
            problems.extend(found);
            None
        }
    }
}
