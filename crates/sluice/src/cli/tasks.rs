//! `sluice tasks`: the task table (path, type, id, IICS task id, Starfish project); `sluice check`:
//! a connection test.

use super::GlobalOpts;
use super::client::{Client, decode};
use super::output::{Table, emit, emit_json};
use anyhow::Result;
use sluice_types::{ConnectionCheck, TaskView};
use std::process::ExitCode;

pub async fn list(global: &GlobalOpts, folder: Option<String>) -> Result<ExitCode> {
    let client = Client::connect(global).await?;
    let query: Vec<(&str, String)> = folder.into_iter().map(|f| ("folder", f)).collect();
    let raw = client.get_raw("/tasks", &query).await?;
    if global.json {
        emit_json(&raw);
        return Ok(ExitCode::SUCCESS);
    }
    let tasks: Vec<TaskView> = decode(raw)?;
    if tasks.is_empty() {
        eprintln!("no tasks");
    } else {
        emit(&tasks_table(&tasks));
    }
    Ok(ExitCode::SUCCESS)
}

fn tasks_table(tasks: &[TaskView]) -> String {
    // The id is also the Starfish job GUID; the folder's id is the Starfish project GUID.
    let mut table = Table::new(&[
        "PATH",
        "TYPE",
        "ID (STARFISH JOB)",
        "IICS ID",
        "STARFISH PROJECT",
    ]);
    for t in tasks {
        table.row(vec![
            t.path.clone(),
            t.task_type.clone(),
            t.id.to_string(),
            t.iics_task_id.clone(),
            t.starfish_project_id.to_string(),
        ]);
    }
    table.render()
}

pub async fn check(global: &GlobalOpts, connection: &str) -> Result<ExitCode> {
    let client = Client::connect(global).await?;
    let path = format!("/connections/{}/check", urlencode(connection));
    let raw = client.post_raw(&path, &serde_json::json!({})).await?;
    let check: ConnectionCheck = decode(raw.clone())?;
    if global.json {
        emit_json(&raw);
    } else if check.ok {
        println!("ok: {} ({} ms)", check.message, check.elapsed_ms);
    } else {
        eprintln!("failed: {}", check.message);
    }
    Ok(if check.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Escapes a path segment (connection names may hold spaces).
pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
